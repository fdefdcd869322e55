"""Two gloo processes at the same global batch end with the weights of one process."""

import os
import socket

import torch
import torch.multiprocessing as mp

from semanticnn.model.backbone import build_backbone
from semanticnn.model.checkpoint import base_config, read_checkpoint, save_base
from semanticnn.train.pipeline import run_training
from train_helpers import make_imagefolder, tiny_options


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, options):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    run_training(**options, log=lambda m: None)


def test_two_processes_match_one(tmp_path):
    folder = make_imagefolder(tmp_path / "tiny")
    torch.manual_seed(1)
    base = tmp_path / "base.pt"
    save_base(base, build_backbone("resnet8", 16, 2), base_config("resnet8", 16, 2))
    opts = dict(base=str(base), epochs_stage1=1, epochs_stage2=1, batch_size=8)
    run_training(**tiny_options(folder, tmp_path / "one", **opts), log=lambda m: None)
    mp.spawn(_worker, args=(2, _free_port(), tiny_options(folder, tmp_path / "two", **opts)), nprocs=2)
    for name in ("encoder", "decoder"):
        one = read_checkpoint(tmp_path / "one" / f"{name}.pt", f"semanticnn-{name}")["state_dict"]
        two = read_checkpoint(tmp_path / "two" / f"{name}.pt", f"semanticnn-{name}")["state_dict"]
        for key in one:
            assert torch.allclose(one[key], two[key], atol=1e-5, rtol=1e-4), f"{name}.{key}"
