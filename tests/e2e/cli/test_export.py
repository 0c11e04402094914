"""deblurlab-export: writes ONNX/TorchScript, checks it against the Restorer on a photograph."""

from __future__ import annotations

import re

import pytest

from deblurlab.errors import ConfigError
from deblurlab.tasks.export import export
from fixtures.checkpoints import tiny_checkpoint
from fixtures.config import compose_config, run_cli

pytest.importorskip("onnxruntime", reason="the export extra (onnx, onnxruntime) is not installed")
pytestmark = pytest.mark.slow  # three command runs with onnx export (about a minute, idle machine)

CHECK = ["check.size=[45,61]", "check.repeats=1"]


def _diff(stdout: str) -> float:
    match = re.search(r"max abs diff : (\S+)", stdout)
    assert match, stdout
    return float(match.group(1))


@pytest.mark.parametrize("model", ["mimo_unet", "sgenet"])
def test_export_onnx_checks_the_file_on_a_photograph(tmp_path, model):
    ckpt = tiny_checkpoint(tmp_path, model)
    out = tmp_path / f"{model}.onnx"
    args = [f"ckpt_path={ckpt}", f"output={out}", *CHECK]
    result = run_cli("cli.export", *args, root=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.is_file() and out.stat().st_size > 10_000
    assert _diff(result.stdout) <= 1e-4
    assert "astronaut, 45 x 61 crop" in result.stdout
    assert re.search(r"Restorer \S+ s, onnxruntime \S+ s per image", result.stdout)
    if model == "mimo_unet":  # an existing file is never replaced without overwrite=true
        before = out.read_bytes()
        again = run_cli("cli.export", *args, root=tmp_path)
        assert again.returncode == 2
        assert again.stderr.strip().splitlines()[-1] == (
            f"error: output={out} exists; choose another name or pass overwrite=true"
        )
        assert out.read_bytes() == before


def test_export_torchscript(tmp_path, capsys):
    ckpt = tiny_checkpoint(tmp_path, "mimo_unet")
    out = tmp_path / "model.pt"
    cfg = compose_config("export", [f"ckpt_path={ckpt}", f"output={out}", *CHECK], tmp_path)
    result = export(cfg)
    assert result["format"] == "torchscript" and out.is_file()
    assert result["max_abs_diff"] <= 1e-4
    assert _diff(capsys.readouterr().out) == pytest.approx(result["max_abs_diff"], rel=1e-2)
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file is gone
    cfg.output = str(tmp_path / "model.zip")
    with pytest.raises(ConfigError, match="must end in .onnx"):
        export(cfg)
