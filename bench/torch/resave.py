"""Resaves a .safetensors model with torch.save (zip format, the default), as most checkpoints are.

Usage: python resave.py MODEL.safetensors OUT.pt
"""
import sys

import torch
from safetensors.torch import load_file

torch.save(load_file(sys.argv[1]), sys.argv[2])
