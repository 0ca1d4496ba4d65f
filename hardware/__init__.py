"""Hardware catalog: accelerators, links, nodes and clusters (data in hardware/data/*.toml)."""

from explorer.hardware.catalog import (
    Accelerator,
    Cluster,
    Link,
    Node,
    accelerator_names,
    build_cluster,
    cluster_with,
    get_accelerator,
    get_link,
    get_node,
    link_names,
    node_for,
    node_for_accelerator,
    node_names,
)

__all__ = [
    "Accelerator",
    "Cluster",
    "Link",
    "Node",
    "accelerator_names",
    "build_cluster",
    "cluster_with",
    "get_accelerator",
    "get_link",
    "get_node",
    "link_names",
    "node_for",
    "node_for_accelerator",
    "node_names",
]
