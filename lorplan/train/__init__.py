"""`lorplan train`: the full run of a plan with transformers + peft (+ bitsandbytes on CUDA, accelerate for
several GPUs). Imports torch; never imported by lorplan.core or the TUI.
"""
