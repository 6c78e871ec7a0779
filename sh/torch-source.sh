# Sourced by sh/lock.sh and sh/setup.sh: where the CPU build of torch comes from, as uv arguments.
# PyPI's Linux torch wheels pull the CUDA libraries (several GB), so the lock pins the CPU build
# (torch==X+cpu), which only two places have: a local wheel folder ($PIP_FIND_LINKS, e.g. /opt/wheels
# holding torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl), else PyTorch's CPU index.
if [ -n "${PIP_FIND_LINKS:-}" ]; then
  TORCH_SOURCE=(--find-links "$PIP_FIND_LINKS")
else
  TORCH_SOURCE=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
fi
