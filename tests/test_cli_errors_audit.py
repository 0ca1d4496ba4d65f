"""What a new user met in the CLI's messages (an audit): an unknown catalog name that suggested nothing, a precision
blamed on the user who never gave one, an --out path shown relative to somewhere else, the validate error rule said
nowhere, and a micro-model's step shown as '0.0000 s'."""

from __future__ import annotations

import json
import re

import pytest
from _explore import explore


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# 1. an unknown catalog name suggests the one meant, from the CLI as from the Python API


@pytest.mark.parametrize("option, typed, meant", [
    ("--model", "llama3_70", "llama3_70b"),      # the 'b' left off: the catalog key it starts
    ("--model", "Llama-3-70", "llama3_70b"),     # written as the model card writes it
    ("--gpu", "h10", "h100_sxm"),                # two keys start 'h100': the shorter, the SXM part
    ("--network", "ib_nd", "ib_ndr"),
    ("--network", "eth100", "eth_100g"),         # no key starts so: the nearest by spelling
    ("--intra-network", "nvlnk4", "nvlink4"),
])
def test_an_unknown_catalog_name_says_which_one_was_meant(option, typed, meant):
    code, out, err = explore("estimate", option, typed)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert f"did you mean {meant!r}" in line, line
    assert "; valid: " in line  # the full list is still there


def test_a_name_like_none_in_the_catalog_suggests_nothing():
    code, _, err = explore("estimate", "--model", "zzz")
    assert code == 2 and "did you mean" not in one_error_line(err)


def test_the_python_api_says_the_same_as_the_cli():
    import explorer
    from explorer.errors import UsageError

    with pytest.raises(UsageError) as exc:
        explorer.estimate(model="llama3_70")
    assert "did you mean 'llama3_70b'" in str(exc.value)
    _, _, err = explore("estimate", "--model", "llama3_70")
    assert one_error_line(err) == f"error: {exc.value}"


# 2. a precision the user never gave is named as the default


def test_a_default_precision_the_part_lacks_is_named_as_the_default():
    # The nRF52840's Cortex-M4F has a single-precision FPU and reads FP16 as a storage format (Nordic nRF52840
    # Product Specification v1.7; hardware/data/accelerators.toml): FP32 and FP16 peaks, no BF16, while the cloud
    # track trains in bf16 (explorer/data/tracks/cloud.toml)
    code, out, err = explore("estimate", "--gpu", "nrf52840")
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "has no BF16 peak" in line and "bf16 is the default precision" in line
    assert "Cloud Titan track's, as none was given" in line
    assert line.endswith("give --precision fp32 or --precision fp16")
    assert "precision 'bf16'" not in line  # not as though the user had typed it


def test_the_default_precision_check_serves_solve_3d_and_the_python_api():
    # one check (explorer.api.check_default_precision) behind estimate, solve 3d and their Python functions
    code, out, err = explore("solve", "3d", "--gpu", "nrf52840", "--gpus", "8")
    line = one_error_line(err)
    assert code == 2 and "bf16 is the default precision" in line and "--precision fp32" in line
    import explorer
    from explorer.errors import UsageError

    for call in (lambda: explorer.estimate(gpu="nrf52840"), lambda: explorer.solve_3d(gpu="nrf52840", gpus=8)):
        with pytest.raises(UsageError) as info:
            call()
        # as a Python caller spells it (explorer/keywords.py python_spelling)
        assert str(info.value).endswith("give precision='fp32' or precision='fp16'")


def test_a_precision_the_user_gave_is_not_called_the_default():
    code, _, err = explore("estimate", "--gpu", "nrf52840", "--precision", "bf16")
    line = one_error_line(err)
    assert code == 2 and "precision 'bf16'" in line and "default" not in line


# 3. --out is named as the user wrote it


def test_out_naming_a_file_is_quoted_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    given = tmp_path / "nu" / "x.html"  # absolute, inside the working directory
    code, _, err = explore("solve", "sync", "--out", str(given))
    line = one_error_line(err)
    assert code == 2
    assert f"not a file: {given} would be made a directory" in line, line
    assert f"--out {given.parent}" in line
    code, _, err = explore("solve", "sync", "--out", "nu/x.html")  # relative stays relative
    assert "not a file: nu/x.html would be made a directory" in one_error_line(err)


# 4. explore validate says how its error is counted


def test_the_error_rule_is_the_one_stated():
    from explorer.validate import _relative_error

    # the audit's row: 129.1 predicted against a published 137, which stands for 136.5-137.5:
    # (129.1 - 136.5)/137 = -7.4/137 = -5.40 %, where the plain ratio is -7.9/137 = -5.77 %
    assert _relative_error(129.1, "137") == pytest.approx(-7.4 / 137)
    assert round(100 * _relative_error(129.1, "137"), 1) == -5.4
    assert _relative_error(136.6, "137") == 0.0  # inside the interval: no error


def test_validate_states_the_error_rule_in_help_text_and_json():
    code, out, _ = explore("validate", "--help")
    help_text = " ".join(out.split())
    assert code == 0 and "beyond half a unit of the published figure's last digit" in help_text
    assert "-5.4 %" in help_text and "-5.8 %" in help_text
    code, out, _ = explore("validate", "--table", "llama3_table4")
    assert code == 0
    head = " ".join(out.split("\n\n")[0].split())  # the first paragraph, whatever the terminal's width
    assert head.startswith("Error = (predicted - published)/published counted beyond half a unit")
    code, out, _ = explore("validate", "--table", "llama3_table4", "--format", "json")
    assert code == 0 and "half a unit of the published figure's last digit" in json.loads(out)["error_rule"]


# 5. a micro-model's times and sizes keep their digits


def test_a_tiny_models_estimate_shows_no_zero_seconds():
    import explorer
    from explorer.cli.estimate import estimate_text

    e = explorer.estimate(model="noise_profile_tiny", gpus=1, micro_batch=4, global_batch=4)
    # a floor by hand: 6 N FLOP per token (Kaplan et al. 2020) with N = 66.7K parameters, 4 x 32 tokens, at the
    # H100 SXM's 989.4 TFLOP/s dense BF16 peak (NVIDIA H100 datasheet): 6 x 66.7e3 x 128 / 989.4e12 = 52 ns; and
    # this step is well under a millisecond, so the text must not round it to 0.0000 s
    assert 6 * 66.7e3 * 128 / 989.4e12 < e.step_time_s < 1e-3
    text = estimate_text(e, width=200)
    assert "0.0000 s" not in text and "0.000 s" not in text
    step = re.search(r"^Step (\d+\.\d{4}) (\w+) ", text, re.M)
    assert step and step.group(2) == "us", text
    assert float(step.group(1)) * 1e-6 == pytest.approx(e.step_time_s, abs=5e-11)
    assert "Step time (us):" in text
    # memory: 66.7K BF16 weights are 133 KB, 0.133 MB; in GB (the H100's limit's unit) they read 0.000
    assert "Memory per device (MB):" in text
    weights = float(re.search(r"^  weights\s+(\S+)", text, re.M).group(1))
    assert weights == pytest.approx(2 * 66.7e3 / 1e6, rel=0.01)


def test_a_cloud_estimate_keeps_seconds_and_gigabytes():
    import explorer
    from explorer.cli.estimate import estimate_text

    text = estimate_text(explorer.estimate(track="cloud", global_batch=1024), width=200)
    assert "Step time (s):" in text and "Memory per device (GB):" in text
    assert re.search(r"^Step \d+\.\d{4} s ", text, re.M)
