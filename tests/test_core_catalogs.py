"""Catalogs: parameter counts derived from shapes agree with the published counts (exactly where the publisher
gives an exact count, else within 1%); every accelerator names its usual node."""

import pytest
from explorer.hardware import build_cluster, get_accelerator, get_link
from explorer.models import get_model, model_names
from explorer.models.architecture import gpt_megatron_flops_per_iteration


@pytest.mark.parametrize("name", [n for n in model_names() if get_model(n).published_params])
def test_param_count_matches_publication(name):
    m = get_model(name)
    assert abs(m.params / m.published_params - 1) < 0.01


# Published exact counts, typed here from the publications (not from the catalog):
#   BLOOM-176B: bigscience/bloom model card, 176,247,271,424 (embedding 3,596,615,680 = 250,880 x 14,336);
#   Llama 3.1 8B / 70B: HF model.safetensors.index.json total_size 16,060,522,496 / 141,107,412,992 bytes of BF16.
#   Mistral 7B: its BF16 checkpoint, 14,483,464,192 bytes (model.safetensors.index.json total_size);
# Rounded counts: GPT-3 175.0B (Brown et al. Table 2.1); MT-NLG 529.6B and 1T 1,008.0B (Narayanan et al.
# SC'21 Table 1, the shapes Megatron trained); Llama 3.1 405B (Llama 3 paper Table 3); OPT-175B (Zhang et al.,
# Table 1).
@pytest.mark.parametrize("name, published, tolerance", [
    ("bloom_176b", 176_247_271_424, 0),
    ("llama3_1_8b", 16_060_522_496 // 2, 0),
    ("llama3_1_70b", 141_107_412_992 // 2, 0),
    ("mistral_7b", 14_483_464_192 // 2, 0),
    ("opt_175b", 175.0e9, 0.005),
    ("llama3_1_405b", 405.0e9, 0.005),
    ("gpt3_175b", 175.0e9, 0.005),
    ("megatron_530b", 529.6e9, 0.0005),
    ("megatron_1t", 1008.0e9, 0.0005),
])
def test_classic_shapes_match_their_publication(name, published, tolerance):
    m = get_model(name)
    if tolerance == 0:
        assert m.params == published
    else:
        assert abs(m.params / published - 1) <= tolerance


def test_qwen25_shapes_leave_out_only_their_qkv_biases():
    # Qwen2.5 puts biases on Q, K and V alone (NeMo Qwen2Config: add_qkv_bias, no other linear bias); the catalog's
    # bias flag is all-or-none, so the shapes carry none. The BF16 checkpoints' total_size / 2 (7B: 15,231,233,024
    # bytes; 72B: 145,412,407,296) is the catalog count plus those biases, h + 2 x kv_dim per layer, to the parameter:
    # 7B: 28 x (3,584 + 2 x 512) = 129,024; 72B: 80 x (8,192 + 2 x 1,024) = 819,200.
    for name, total_bytes in (("qwen2_5_7b", 15_231_233_024), ("qwen2_5_72b", 145_412_407_296)):
        m = get_model(name)
        assert not m.bias and not m.tied_embeddings and m.gated
        assert m.params + m.layers * (m.hidden + 2 * m.kv_dim) == total_bytes // 2
    assert get_model("Qwen/Qwen2-72B").key == "qwen2_5_72b"  # Qwen2-72B has the same shape


def test_bloom_shape_is_gelu_alibi_with_embedding_norm():
    # BLOOM paper sec. 3.2: ALiBi (no position table), an extra LayerNorm after the embedding, GELU 4h MLP.
    m = get_model("bloom")
    assert (m.mlp, m.position, m.embedding_norm, m.ffn) == ("gelu", "alibi", True, 4 * 14336)
    assert m.embedding_params == 250_880 * 14_336 + 2 * 14_336


def test_gelu_mlp_has_two_matrices_swiglu_three():
    # GPT-style 4h GELU MLP: 2 x h x 4h = 8 h^2; SwiGLU at the same width would be 12 h^2 (1.5x).
    from explorer.api import custom_model
    g = custom_model(2, 1024, 8, mlp="gelu", vocab=1000)
    s = custom_model(2, 1024, 8, mlp="swiglu", ffn=4096, vocab=1000)
    assert g.ffn == 4096
    assert s.layer_matmul_params - g.layer_matmul_params == 1024 * 4096


@pytest.mark.parametrize("gpu, node", [("h100", "dgx_h100"), ("a100", "dgx_a100"), ("a100_40gb", "dgx_a100_40gb"),
                                       ("h200", "hgx_h200"), ("b200", "dgx_b200")])
def test_every_datacenter_gpu_names_its_node(gpu, node):
    # DGX/HGX user guides: 8 GPUs per node, one compute NIC per GPU.
    from explorer.hardware import get_node, node_for
    n = node_for(gpu)
    assert n.key == node and n.devices == 8 and n.nics == 8
    assert n.accelerator == get_accelerator(gpu).key
    assert get_node(node).inter_link in ("ib_ndr", "ib_hdr")


def test_every_accelerator_has_a_node_of_its_own_part():
    from explorer.hardware import accelerator_names, node_for
    for name in accelerator_names():
        assert node_for(name).accelerator == name


def test_llama3_70b_by_hand():
    # Per layer: Q,O 2 x 8192^2 = 134,217,728; K,V 2 x 8192 x 1024 = 16,777,216;
    # SwiGLU 3 x 8192 x 28672 = 704,643,072; two RMSNorms 16,384 -> 855,654,400.
    # 80 layers = 68,452,352,000; embedding + untied head 2 x 128,256 x 8192 = 2,101,346,304; final norm 8192.
    assert get_model("llama3_70b").params == 68_452_352_000 + 2_101_346_304 + 8192


def test_h100_peak_is_dense_bf16():
    # docs/conventions.md: H100 SXM BF16 dense 989 TFLOP/s (not 1979 with sparsity); A100 312.
    assert get_accelerator("h100").peak("bf16") == pytest.approx(989.4e12)
    assert get_accelerator("a100").peak("bf16") == pytest.approx(312e12)


@pytest.mark.parametrize("written, key", [
    ("NVIDIA H100 SXM5", "h100_sxm"), ("NVIDIA H100 80GB HBM3", "h100_sxm"), ("h100-80gb", "h100_sxm"),
    ("A100-SXM4-80GB", "a100_80gb"), ("nvidia a100-sxm4-40gb", "a100_40gb"), ("H200", "h200"),
])
def test_gpus_answer_to_the_names_nvidia_smi_and_papers_give_them(written, key):
    # nvidia-smi prints 'NVIDIA H100 80GB HBM3' / 'NVIDIA A100-SXM4-80GB'; papers write 'A100 80GB', 'H100 SXM5'
    assert get_accelerator(written).key == key


@pytest.mark.parametrize("written, key", [
    ("Meta-Llama-3.1-8B", "llama3_1_8b"), ("Llama 3 70B", "llama3_70b"), ("Llama-3.1-405B", "llama3_1_405b"),
    ("llama 2 70b", "llama2_70b"), ("GPT-3 175B", "gpt3_175b"), ("Nemotron-4 340B", "nemotron4_340b"),
    ("MT-NLG 530B", "megatron_530b"), ("BLOOM-176B", "bloom_176b"),
    ("meta-llama/Meta-Llama-3.1-8B", "llama3_1_8b"), ("meta-llama/Llama-2-70b-hf", "llama2_70b"),
    ("meta-llama/Llama-2-13b-chat-hf", "llama2_13b"), ("meta-llama/Meta-Llama-3-70B-Instruct", "llama3_70b"),
    ("nvidia/Nemotron-4-340B-Base", "nemotron4_340b"), ("bigscience/bloom", "bloom_176b"),
])
def test_models_answer_to_the_names_their_publishers_give_them(written, key):
    # Hugging Face repository names (meta-llama/Meta-Llama-3.1-8B) and the papers' own spellings
    assert get_model(written).key == key


def test_no_two_catalog_entries_share_a_written_name():
    # lookups compare names with case, spaces, dashes, underscores and dots dropped (explorer/errors.py written_name):
    # within each catalog no two entries may then read alike
    from explorer.hardware import catalog as hw
    from explorer.models.catalog import _table

    from explorer.errors import written_name

    for table, vendor in ((_table(), "meta"), (hw._accelerators(), "nvidia"), (hw._links(), "nvidia"),
                          (hw._nodes(), "nvidia")):
        owner: dict[str, str] = {}
        for key, entry in table.items():
            for name in {key, *entry.get("aliases", [])}:
                assert owner.setdefault(written_name(name, vendor), key) == key, name


def test_an_unknown_gpu_is_refused_with_the_choices():
    from explorer.errors import UsageError

    with pytest.raises(UsageError, match="unknown accelerator 'MI300X'.*h100_sxm"):
        get_accelerator("MI300X")


@pytest.mark.parametrize("value", [None, ["h100"], {}, 5, ("a",)])
@pytest.mark.parametrize("getter, kind, valid", [
    ("get_model", "model", "llama3_8b"), ("get_accelerator", "accelerator", "h100_sxm"),
    ("get_link", "network", "ib_ndr"), ("get_track", "track", "cloud")])
def test_a_getter_given_no_name_is_a_usage_error_naming_the_value_and_the_names(getter, kind, valid, value):
    # None raised AttributeError ('NoneType' object has no attribute 'lower') and a list or dict TypeError
    # (unhashable, from the lookups' cache); get_track(None) already gave the one-line UsageError
    import explorer
    from explorer.errors import UsageError

    with pytest.raises(UsageError) as exc:
        getattr(explorer, getter)(value)
    text = str(exc.value)
    assert text.startswith(f"unknown {kind} {value!r}; valid: ") and valid in text and "\n" not in text


def test_a_lookup_by_name_is_still_cached():
    from explorer.hardware import get_node

    assert get_model("llama3_8b") is get_model("llama3_8b")
    assert get_accelerator("h100") is get_accelerator("h100")
    assert get_link("ib_ndr") is get_link("ib_ndr")
    assert get_node("dgx_h100") is get_node("dgx_h100")


def test_link_units_converted_once():
    # NDR 400 Gb/s = 50 GB/s per direction; NVLink 4: 900 GB/s aggregate = 450 GB/s per direction.
    assert get_link("ib_ndr").bandwidth == pytest.approx(50e9)
    assert get_link("nvlink4").bandwidth == pytest.approx(450e9)


def test_gpt3_flops_per_iteration_megatron_form():
    # Megatron (Korthikanti et al. 2022): 72 B s L h^2 (1 + s/(6h) + V/(12 h L)) for a GPT shape.
    # GPT-3 175B, B = 1536, s = 2048, L = 96, h = 12288, V = 50257:
    #   72 x 1536 x 2048 x 96 = 21,743,271,936; x 12288^2 (150,994,944) = 3.28312e18;
    #   1 + 2048/73728 + 50257/14155776 = 1.031328 -> 3.38597e18 FLOPs per iteration (no recompute).
    m = get_model("gpt3")
    ours = m.model_flops_per_token(2048) * 1536 * 2048
    assert ours == pytest.approx(3.38597e18, rel=1e-4)
    assert ours == pytest.approx(gpt_megatron_flops_per_iteration(1536, 2048, 96, 12288, 50257), rel=1e-9)
    # full recompute: 96 B s L h^2 (1 + s/(6h) + V/(16 h L)) (Narayanan et al. SC'21 eq. 3)
    hw = (m.model_flops_per_token(2048) + m.recompute_flops_per_token(2048, "full")) * 1536 * 2048
    assert hw == pytest.approx(gpt_megatron_flops_per_iteration(1536, 2048, 96, 12288, 50257, True), rel=1e-9)


def test_a_cluster_smaller_than_its_node_is_described_as_part_of_one_node():
    # A DGX H100 holds 8 GPUs (NVIDIA DGX H100 datasheet); an estimate on 1 or 4 of them uses part of one node, and
    # no traffic leaves it: the line must not read "DGX H100: 1 x H100, one NDR link per device".
    from explorer.hardware.catalog import cluster_with

    from explorer.tracks import get_track

    base = get_track("cloud").cluster
    one, four, full = (cluster_with(base, gpus=n) for n in (1, 4, 64))
    assert one.describe_node().startswith("part of one DGX H100: 1 of its 8 x NVIDIA H100")
    assert "NDR" not in one.describe_node() and "NVLink" not in one.describe_node()
    assert "4 of its 8" in four.describe_node() and "NVLink 4 inside" in four.describe_node()
    assert full.describe_node().startswith("DGX H100: 8 x") and "NDR" in full.describe_node()


def test_nrf52840_fp16_is_storage_widened_at_a_conversion_cost():
    # Cortex-M4 TRM r0p1 Table 7-1: VMUL.F32 and VADD.F32 1 cycle each, VMLA/VFMA.F32 3, so a multiply-add is at best
    # a VMUL and a VADD, 2 FLOP in 2 cycles: FP32 peak 1 FLOP/cycle x 64 MHz = 64 MFLOP/s (a 1-cycle FMA, 128, was
    # counted before). The FPv4-SP FPU has single-precision arithmetic only; FP16 is read through VCVTB/VCVTT, 1 cycle
    # each (ARMv7-M ARM A2.5.3; TRM Table 7-1). A 4 x 4 register block of FP32 accumulators takes 4 + 4 = 8 FP16
    # operands per 16 multiply-adds: 2 + 8/16 = 2.5 cycles per multiply-add (2 FLOP) at 64 MHz
    # -> 2 / 2.5 x 64e6 = 51.2 MFLOP/s, four fifths of the FP32 peak.
    a = get_accelerator("nrf52840")
    assert a.peak("fp32") == pytest.approx(2 / 2 * 64e6)
    assert a.peak("fp16") == pytest.approx(2 / 2.5 * 64e6, rel=1e-6)
    assert "VCVTB" in a.source and "storage" in a.source and "VMLA/VFMA 3" in a.source
    # the quarter of that peak is an assumption derived from instruction timings, not credited to int8 kernels
    assert "assumption" in a.matmul_efficiency_source and "int8" in a.matmul_efficiency_source


def test_estimate_says_fp16_is_storage_on_a_part_without_fp16_arithmetic():
    # explore estimate --track tiny --precision fp16 said "FP16 weights, activations and GEMMs" on the Cortex-M4F,
    # whose FPU computes in FP32 only (ARMv7-M ARM A2.5.3): the precision line says FP16 is stored and widened.
    from explorer.assumptions import setup_assumptions
    from explorer.puzzles.threed import make_setup
    from explorer.tracks import get_track

    def line(track: str) -> str:
        s = make_setup(get_track(track), precision="fp16")
        return next(a.text for a in setup_assumptions(s) if a.text.startswith("Precision:"))

    tiny = line("tiny")
    assert "FP16 as a storage format" in tiny and "widened to FP32" in tiny and "GEMMs computed in FP32" in tiny
    assert "64.0 MFLOP/s" in tiny and "51.2 MFLOP/s" in tiny
    assert "FP16 weights, activations and GEMMs" in line("cloud")  # the H100 has FP16 tensor cores


def test_a_radio_link_without_a_duplex_is_refused_at_loading():
    # links.toml: every radio (energy_nj_per_bit) states duplex = "half" | "full" with a duplex_source; a radio
    # entry without one must not default to full duplex (it would price send and receive as if they overlapped).
    from explorer.hardware.catalog import _duplex

    with pytest.raises(ValueError, match=r"\[r\].*must state its duplex"):
        _duplex("r", {"energy_nj_per_bit": 1.0})
    with pytest.raises(ValueError, match=r"'simplex' is not one of full, half"):
        _duplex("r", {"energy_nj_per_bit": 1.0, "duplex": "simplex", "duplex_source": "x"})
    with pytest.raises(ValueError, match="needs a duplex_source"):
        _duplex("r", {"energy_nj_per_bit": 1.0, "duplex": "half"})
    assert _duplex("w", {}) == "full"  # a wired link that says nothing is full duplex
    assert get_link("nfmi").duplex == "half" and "NxH2280" in get_link("nfmi").duplex_source
    assert get_link("ib_ndr").duplex == "full" and not get_link("ib_ndr").half_duplex


def test_a_node_lists_radio_links_only_and_says_where_they_come_from():
    # nodes.toml radios: what a fleet device can talk over (explore solve scaling --fabric reads it); an entry naming
    # a wire or an unknown link, or naming radios without a source, is refused at loading
    from explorer.hardware.catalog import _radios, get_node

    with pytest.raises(ValueError, match=r"\[n\]: radios lists 'ib_ndr', which is not a radio"):
        _radios("n", {"radios": ["ib_ndr"], "radios_source": "x"})
    with pytest.raises(ValueError, match="'tin_can', which"):
        _radios("n", {"radios": ["tin_can"], "radios_source": "x"})
    with pytest.raises(ValueError, match="needs a radios_source"):
        _radios("n", {"radios": ["ble"]})
    assert _radios("w", {}) == ()  # a wired node names none
    # the nRF52840 product specification's RADIO: Bluetooth LE (1M, 2M, Coded) and 802.15.4, no Wi-Fi, no cellular
    pair = get_node("hearable_pair")
    assert set(pair.radios) == {"ble", "bluetooth"} and "nRF52840" in pair.radios_source
    assert "lte_5g" not in get_node("ar_glasses").radios  # the AR1 glasses have no modem (they go through the phone)
    assert get_node("dgx_h100").radios == ()



@pytest.mark.parametrize("intra,largest", [("nvlink3", 16), ("nvlink4", 256), ("nvlink5", 576)])
def test_a_node_larger_than_its_nvlink_generations_largest_domain_is_refused(intra, largest):
    # NVIDIA: second-generation NVSwitch joins 16 A100s (HGX A100 16-GPU), the NVLink Switch System 256 Hopper GPUs
    # (DGX GH200), fifth-generation NVLink Switch 576 Blackwell GPUs (links.toml max_domain_source)
    from explorer.errors import UsageError

    gpu = {"nvlink3": "a100", "nvlink4": "h100", "nvlink5": "b200"}[intra]
    assert build_cluster(gpu, 2 * largest, largest, intra, "ib_ndr").devices_per_node == largest
    with pytest.raises(UsageError, match=rf"gpus-per-node {2 * largest:,}: .* at most {largest:,} GPUs") as exc:
        build_cluster(gpu, 2 * largest, 2 * largest, intra, "ib_ndr")
    assert "\n" not in str(exc.value)


def test_a_link_without_a_domain_bound_takes_any_node():
    assert build_cluster("h100", 2048, 1024, "eth_100g", "ib_ndr").devices_per_node == 1024


def test_a_precision_spelled_wrong_is_unknown_not_a_missing_peak():
    # 'FP8' said "the H100 has no FP8 peak; valid on it: ..., fp8" (a contradiction over the case); a real precision
    # the part lacks still names the part's own
    from explorer.errors import UsageError

    with pytest.raises(UsageError, match=r"precision 'FP8' unknown \(did you mean 'fp8'\?\)"):
        get_accelerator("h100").peak("FP8")
    with pytest.raises(UsageError, match=r"has no FP8 peak; valid on it: fp32, bf16, fp16$"):
        get_accelerator("a100").peak("fp8")
