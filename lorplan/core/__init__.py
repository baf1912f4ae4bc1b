"""The core: model specs, parameter counts, memory model, GPU facts, data profiles, plans.

Pure Python plus small dependencies. Never imports torch, transformers, peft or textual at module level.
"""
