"""lorplan: plan LoRA fine-tuning before you train.

Importing this package must stay cheap: no torch, transformers, peft or textual here.
"""

__version__ = "0.1.0"
