"""A local web page to drop a photo on and see it deblurred: what ``deblurlab-demo`` does.

The page (Gradio) shows the blurry photo and the network's output side by side; the output has a
download button (8-bit PNG, rounded half up like every image deblurlab writes). The network runs
through the same :class:`~deblurlab.inference.Restorer` as ``deblurlab-predict``, loaded by
:func:`~deblurlab.inference.loading.load_restorer_from_config` (so ``tile``, ``overlap``,
``ensemble``, ``precision`` and ``device`` mean what they mean there; large photos run in tiles).

The server listens on ``host`` (``127.0.0.1`` by default: only this machine can open the page).
Gradio is an optional extra (``pip install 'deblurlab[demo]'``) and is imported only here, when
the page is built, so the rest of deblurlab works without it. Its usage analytics are off.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from deblurlab.data.io import read_image
from deblurlab.errors import ConfigError, DeblurlabError
from deblurlab.inference.loading import load_restorer_from_config
from deblurlab.inference.restorer import Restorer
from deblurlab.quantize import to_uint8

INSTALL_HINT = "deblurlab-demo needs gradio: pip install 'deblurlab[demo]' (or make install)"
API_NAME = "deblur"  # the page's API endpoint: /deblur (gradio_client: api_name="/deblur")


def require_gradio() -> Any:
    """The ``gradio`` module; a one-line error naming the install command when it is missing."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise DeblurlabError(INSTALL_HINT) from None
    return gradio


def deblur_photo(restorer: Restorer, photo: np.ndarray) -> np.ndarray:
    """An H x W x 3 photo (uint8, or floats in [0, 1]) -> the restored H x W x 3 uint8 image."""
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    photo = photo[..., :3]
    scale = 255.0 if photo.dtype == np.uint8 else 1.0
    x = torch.from_numpy(np.ascontiguousarray(photo, dtype=np.float32) / scale)
    restored = restorer(x.permute(2, 0, 1)[None])
    return to_uint8(restored[0].permute(1, 2, 0))


def build_app(restorer: Restorer, title: str, example: np.ndarray | None = None) -> Any:
    """The Gradio page: the blurry photo and the deblurred one side by side, a download button.

    ``example`` (uint8 H x W x 3): a photo shown, with its deblurred version, when the page opens.
    """
    gr = require_gradio()

    def run(photo: np.ndarray | None) -> np.ndarray | None:
        return None if photo is None else deblur_photo(restorer, photo)

    restored = run(example) if example is not None else None
    with gr.Blocks(title=title) as app:
        gr.Markdown(
            f"## {title}\nDrop a blurry photo on the left; the deblurred one appears on "
            "the right (download it with its button)."
        )
        with gr.Row():
            blurry = gr.Image(
                value=example,
                type="numpy",
                image_mode="RGB",
                sources=["upload", "clipboard"],
                label="blurry",
            )
            sharp = gr.Image(
                value=restored,
                type="numpy",
                format="png",
                interactive=False,
                buttons=["download", "fullscreen"],
                label="deblurred",
            )
        button = gr.Button("Deblur", variant="primary")
        button.click(run, inputs=blurry, outputs=sharp, api_name=API_NAME)
        blurry.upload(run, inputs=blurry, outputs=sharp, api_name=False)
        gr.Markdown(f"`{restorer!r}`")
    return app


def read_example(spec: str | None) -> np.ndarray | None:
    """The ``example`` photo as uint8 H x W x 3 (an image file), or None."""
    if spec in (None, ""):
        return None
    path = Path(str(spec)).expanduser()
    if not path.is_file():
        raise ConfigError(f"example={spec}: no such image file")
    return to_uint8(read_image(path))


def check_address(host: str, port: Any) -> None:
    """Refuse, naming the key, a port out of range or one this machine cannot listen on now
    (taken by another server, or a host that is not one of its addresses)."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError(f"port must be an integer in 1..65535, got {port!r}")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"port={port} host={host}: cannot listen there ({reason}); choose another port= "
            "(or host=)"
        ) from None


def demo(cfg: DictConfig) -> None:
    """Serve the page for ``cfg.ckpt_path`` on ``cfg.host``:``cfg.port`` until interrupted."""
    gr = require_gradio()  # before the checkpoint is loaded: fail fast without the extra
    host, port = str(cfg.get("host", "127.0.0.1")), cfg.get("port")
    check_address(host, port)
    example = read_example(cfg.get("example"))
    restorer, loaded = load_restorer_from_config(cfg)
    name = loaded.model_cfg.get("name") or "model"
    app = build_app(restorer, f"deblurlab: {name} ({Path(str(cfg.ckpt_path)).name})", example)
    print(f"deblurlab demo: {name} on {restorer.device}, {restorer!r}", flush=True)
    app.queue().launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        ssr_mode=False,
        show_error=True,
        theme=gr.themes.Default(),
    )
