"""The one training engine (engine.py: model.py, optim.py, data.py, memory.py) with transformers + peft
(+ bitsandbytes on CUDA, accelerate for several GPUs): `lorplan train` (runner.py) runs a plan to its end with
it, a probe (lorplan.probe.worker) runs a plan briefly. Imports torch; never imported by lorplan.core or the TUI.
"""
