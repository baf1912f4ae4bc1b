"""What each field means, in plain words. Used for tooltips (first sentence) and the help screen (all of it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HelpTopic:
    id: str
    title: str
    text: str

    @property
    def tooltip(self) -> str:
        first = self.text.split(". ")[0].rstrip(".")
        return f"{first}. (F1: more)"


TOPICS: tuple[HelpTopic, ...] = (
    HelpTopic(
        "rank",
        "Rank (r)",
        "The rank is the width of the small matrices LoRA adds next to each frozen weight: a d×k weight gets "
        "two extra matrices of d×r and r×k, so an adapter trains r·(d+k) numbers instead of d·k. A higher rank "
        "can learn more, costs more parameters, optimizer memory and a little activation memory, and is not "
        "always better: many tasks learn as well at 8 or 16 as at 256. Use the table to see the price of each "
        "rank, and probe trainings (Probes tab) to see which rank actually learns your data.",
    ),
    HelpTopic(
        "gpu",
        "GPU and memory budget",
        "The table compares every rank against the memory of the chosen GPU. lorplan reads your GPUs through "
        "NVML (the NVIDIA driver) and refreshes them every few seconds. Without a GPU or a driver, pick a "
        "preset or type a budget such as 24G or 80GB: the plan is the same, only the budget is yours. A single "
        "letter is binary, as the table writes it: 24G is 24GiB (24·2³⁰ bytes); GB and MB are decimal: 80GB is "
        "80·10⁹ bytes.",
    ),
    HelpTopic(
        "model",
        "Model",
        "Type to search the built-in catalog, or type a local folder (or config.json path) or a hub id that "
        "is already in your Hugging Face cache, then press Enter. Only config.json is read: nothing is "
        "downloaded and no model code runs.",
    ),
    HelpTopic(
        "quant",
        "Quantization",
        "How the frozen base weights are stored. bf16 keeps 2 bytes per weight. 8-bit (LLM.int8) keeps 1 byte. "
        "4-bit NF4 or FP4 (QLoRA) keeps half a byte plus one 32-bit scale per block of 64 weights, about 4.5 "
        "bits per weight. Embeddings and the output layer stay unquantized. The adapters always train in "
        "higher precision.",
    ),
    HelpTopic(
        "double_quant",
        "Double quantization",
        "Double quantization stores the 4-bit scales themselves in 8 bits. Each block of 64 weights has a "
        "32-bit scale (0.5 bit per weight); double quantization cuts that to about 0.127 bit per weight, "
        "saving about 0.37 bit per weight: roughly 0.35 GiB on an 8B model, 3 GiB on a 70B model. It costs "
        "almost nothing in speed or quality, so QLoRA turns it on.",
    ),
    HelpTopic(
        "targets",
        "Target modules",
        "Which linear layers get adapters. The names are the real module names of this architecture. "
        "all-linear adapts every linear layer inside the blocks (as peft does), attention only the attention "
        "projections, mlp only the feed-forward layers. More targets train more parameters and keep more "
        "inputs in memory for the backward pass.",
    ),
    HelpTopic(
        "micro_batch",
        "Micro-batch",
        "How many sequences go through the GPU in one forward and backward pass. Activation memory grows in "
        "proportion. Gradient accumulation gives a larger effective batch without more memory, so lower this "
        "first when a plan does not fit. The table's max mb column shows the largest micro-batch that fits.",
    ),
    HelpTopic(
        "seq_len",
        "Sequence length and why activations dominate",
        "The number of tokens per sequence. Weights and optimizer state do not depend on it, but the "
        "activations saved for the backward pass grow with every token (and with its square for eager "
        "attention), and the fp32 logits over the whole vocabulary grow with it too. At 8k tokens and beyond "
        "activations are usually the largest item in the table: shorten sequences, lower the micro-batch or "
        "turn on gradient checkpointing.",
    ),
    HelpTopic(
        "grad_checkpointing",
        "Gradient checkpointing",
        "Keeps only each block's input during the forward pass and recomputes the rest during backward. It "
        "cuts activation memory by a large factor at the cost of roughly a third more compute per step.",
    ),
    HelpTopic(
        "optimizer",
        "Optimizer",
        "AdamW keeps two fp32 numbers per trainable parameter (8 bytes). 8-bit AdamW keeps them in 8 bits "
        "(2 bytes; small tensors stay 32-bit). Paged AdamW lets state move to CPU memory under pressure. SGD "
        "keeps nothing, SGD with momentum one number. With LoRA the optimizer state is small because few "
        "parameters train.",
    ),
    HelpTopic(
        "attention",
        "Attention implementation",
        "SDPA (PyTorch's default) and flash-attention never store the full sequence×sequence score matrix; "
        "eager attention does, which makes memory grow with the square of the sequence length.",
    ),
    HelpTopic(
        "lora_dropout",
        "LoRA dropout",
        "Dropout on the adapter's input during training (0 to below 1; 0.05 is common). Any value above 0 "
        "makes peft keep a dropped-out copy of each adapted module's input for the backward pass.",
    ),
    HelpTopic(
        "dora",
        "DoRA",
        "Weight-decomposed LoRA: adds one trainable magnitude per output feature of each adapted module. A "
        "few more parameters, more compute per step.",
    ),
    HelpTopic(
        "gpus",
        "GPUs and sharding",
        "How many GPUs train together. DDP keeps a full copy on each GPU; FSDP and ZeRO-3 split the weights, "
        "gradients and optimizer state across GPUs; ZeRO-2 splits gradients and optimizer state only. The "
        "table shows memory per GPU.",
    ),
    HelpTopic(
        "padding_mask",
        "Padded batches (padding mask)",
        "Tick this when your batches are padded to a common length with an attention mask (a padding collator) "
        "rather than packed or of equal length. With SDPA, models with grouped-query attention then repeat "
        "their keys and values and every layer keeps a sequence×sequence mask, which costs memory at long "
        "sequences; flash-attention removes the padding instead and is not affected.",
    ),
    HelpTopic(
        "custom_rank",
        "Custom rank",
        "Add one rank of your own to the table (for example 12 or 96): its row is selected as you type, the "
        "cursor staying in the field. Leave empty for none.",
    ),
    HelpTopic(
        "data",
        "Data tab (F6): dataset profile",
        "Type a dataset path and pick a schema (or auto): lorplan profiles it in the background with the plan's "
        "tokenizer and counts the tokens that will really be trained on. It shows the figures (for "
        "classification data the examples per label), the skipped rows and a histogram of example lengths with "
        "the planned sequence length as a red line. The next export (ctrl+e) takes its data table from the "
        "last profile.",
    ),
    HelpTopic(
        "probes",
        "Probes tab (F7): probe trainings",
        "A probe is a short, real LoRA training at one rank on a sample of your data, so you can see which rank "
        "learns. p probes the plan on screen at a quarter, half, once and twice the selected rank; s starts "
        "the demo; c cancels the highlighted probe and C the whole run; t retries it; v switches between the "
        "loss curves and the ranks side by side. Probes run in the background and go on when lorplan closes.",
    ),
    HelpTopic(
        "recommend",
        "Recommend tab (F8): rank recommendation",
        "The rank, alpha and learning rate for your model and data, with the evidence: the capacity prior at "
        "once, then the rows of a probe ladder as its probes finish. l starts a ladder for the setup on screen "
        "(budget in minutes, seeds and steps per probe in the tab's fields); a applies rank, alpha and "
        "learning rate to the plan, with the per-module rank pattern only when the ladder's check kept it "
        "(better than one rank on your data beyond the noise); p the same with the pattern even when it is "
        "unchecked; u the same with one rank for every module.",
    ),
    HelpTopic(
        "table",
        "Reading the table",
        "One row per rank. trainable: parameters the adapter trains, and their share of the model. weights: "
        "the frozen base model. adapter: LoRA weights. optim: optimizer state. grads and activ are taken at the "
        "step's peak moment (the summary under the table names it): grads, the adapter gradients alive then (none yet at "
        "the loss, all of them at the optimizer step); activ, everything else alive then (saved activations, "
        "logits, temporaries). other: CUDA context, cuBLAS workspaces and allocator reserve. total: peak per GPU, the sum of the "
        "row. The bar compares the total with the GPU's memory; fits says whether it fits; max mb is the "
        "largest micro-batch that fits. The last row, full, is full fine-tuning with the same setup for "
        "reference (every parameter trained: fp32 master weights, fp32 gradients and optimizer states under "
        "16-bit autocast, the base dtype without it; a quantized setup priced unquantized), as `lorplan plan` "
        "prints it under its table. Sizes in the table are binary: 14.96G is 14.96 GiB, 160M is 160 MiB.",
    ),
)

BY_ID = {topic.id: topic for topic in TOPICS}


def tooltip(topic_id: str) -> str:
    return BY_ID[topic_id].tooltip
