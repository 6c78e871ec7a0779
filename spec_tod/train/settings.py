"""Typed training settings: what a spec-tod YAML (``spec_tod/resources/configs/*.yaml``) may say, checked before anything runs.

Unknown keys are errors (``extra="forbid"``), so a typo never silently falls back to a default.
The field names follow axolotl's where there is one, so a user who knows axolotl recognises them;
``axolotl`` takes raw axolotl keys for anything not modelled here (they are checked against
axolotl's schema, see :mod:`spec_tod.train.validate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "function", "observation", "assistant"]
Distribution = Literal["single", "ddp", "deepspeed_zero1", "deepspeed_zero2", "deepspeed_zero3", "fsdp"]

# The axolotl image that axolotl 0.19.0 itself launches for cloud runs (axolotl/cli/cloud/modal_.py).
DEFAULT_AXOLOTL_IMAGE = "axolotlai/axolotl:main-py3.11-cu128-2.9.1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _absolute(path: Path) -> Path:
    # Relative paths mean "from the current folder"; the run records them absolute so it can be resumed anywhere.
    return path.expanduser().absolute()


class DataSource(_Strict):
    """One build-data output: a ``.jsonl`` file, or a folder whose ``*.jsonl`` files are all used."""

    path: Path = Field(description="A build-data output: a .jsonl file, or a folder whose *.jsonl files are all used.")
    roles_to_train: list[Role] | None = Field(
        None,
        description="Roles whose contents (plus the end-of-turn token) carry labels, instead of the records' own "
        "per-message weights (build-data writes 1 on `function` messages of DST records and on `assistant` "
        "messages of end-to-end records, the method's choice); only for templates that render every role.",
    )
    allow_test_split: bool = Field(
        default=False,
        description="Train on records built from a test split too (refused by default: they are what bench scores).",
    )

    _absolute_path = field_validator("path")(_absolute)


class LoraSettings(_Strict):
    """The LoRA adapter (also used by QLoRA)."""

    r: int = Field(32, gt=0, description="Rank of the low-rank update (axolotl's lora_r; the release: 32).")
    alpha: int = Field(16, gt=0, description="Scaling numerator: the update is multiplied by alpha / r (the release: 16).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter's input (the release: 0.05).")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "v_proj"],
        description="Module names that get an adapter (the release: the attention's query and value projections).",
    )
    target_linear: bool = Field(
        False, description="Adapt every linear layer instead of target_modules only (axolotl's lora_target_linear)."
    )
    kernels: bool | None = Field(
        None, description="axolotl's fused LoRA kernels: None lets axolotl decide; they need CUDA, so false on CPU."
    )


class DistributedSettings(_Strict):
    """More than one GPU or machine: the accelerate launch and the sharding strategy."""

    strategy: Distribution = Field(
        "single",
        description="single: one process, or plain data parallelism when several GPUs are given; ddp; DeepSpeed ZeRO "
        "stage 1, 2 or 3 (stage 3 gathers the weights at each save, so merge can read them); fsdp (FSDP 2, one "
        "Llama decoder layer wrapped as a unit).",
    )
    processes_per_machine: int | None = Field(
        None, gt=0, description="Training processes (one per GPU) on each machine; default: the GPUs given or visible."
    )
    num_machines: int = Field(1, gt=0, description="Machines taking part; above 1 needs main_process_ip.")
    machine_rank: int = Field(0, ge=0, description="This machine's rank, 0 to num_machines - 1 (0 holds the main process).")
    main_process_ip: str | None = Field(None, description="Address of the machine of rank 0, which the others join.")
    main_process_port: int = Field(29500, gt=0, lt=65536, description="Port of the main process on that machine.")

    @model_validator(mode="after")
    def _multi_node_needs_address(self) -> DistributedSettings:
        if self.num_machines > 1 and not (self.main_process_ip and self.processes_per_machine):
            raise ValueError("num_machines > 1 needs main_process_ip (the address of machine_rank 0) and processes_per_machine")
        if self.machine_rank >= self.num_machines:
            raise ValueError(f"machine_rank {self.machine_rank} must be below num_machines {self.num_machines}")
        return self


class DockerSettings(_Strict):
    """The docker backend: which image runs axolotl and how."""

    image: str = Field(
        DEFAULT_AXOLOTL_IMAGE, description="The axolotl image (default: the one axolotl 0.19.0 launches for its cloud runs)."
    )
    entrypoint: list[str] | None = Field(None, description="Replaces the image's entry point (a stand-in for tests).")
    pull: bool = Field(True, description="Pull the image when it is not present.")
    shm_size: str = Field("16g", description="Shared memory for NCCL and data loaders.")
    hf_cache: Path | None = Field(None, description="Host folder mounted as the container's HF cache; default $HF_HOME.")

    @field_validator("hf_cache")
    @classmethod
    def _absolute_cache(cls, path: Path | None) -> Path | None:
        return _absolute(path) if path is not None else None


class TrackingSettings(_Strict):
    """Where training metrics go besides the log: Weights & Biases and TensorBoard (axolotl's keys)."""

    wandb_project: str | None = Field(None, description="W&B project; the key is $WANDB_API_KEY (docker: over stdin).")
    wandb_entity: str | None = Field(None, description="W&B team or user that owns the project.")
    wandb_name: str | None = Field(None, description="W&B run name (default: W&B's own).")
    tensorboard: bool = Field(False, description="TensorBoard event files under the run folder (runs/).")


class TrainSettings(_Strict):
    """A complete fine-tuning run. Presets (:mod:`spec_tod.train.presets`) fill the fields a file leaves out.

    The defaults are the release's recipe (docs/method-reference.md §6, ``fine_tune_10_percent.yml``), with one
    change: chat_template datasets instead of ``input_output``. The release's
    ``eval_max_new_tokens: 128`` is left out: axolotl 0.19 deprecates it, and it only matters for
    generation during evaluation, which the recipe does not do.
    """

    preset: str = Field(
        "spec-tod",
        description="The recipe the other fields start from: spec-tod (LoRA, the release's), qlora or full "
        "(spec_tod.train.presets.PRESETS); the file's own keys win.",
    )
    profile: Literal["gpu", "cpu"] = Field(
        "gpu",
        description="gpu: the recipe as it is; cpu: what runs without CUDA (no bf16, flash attention or CUDA kernels), "
        "5 steps of 2 unpadded records, to prove the path works.",
    )
    speed: Literal["release", "fast"] = Field(
        "release",
        description="release: the release's recipe exactly; fast: the same records, rows not padded to sequence_len, "
        "SDPA, and Liger kernels on GPUs (spec_tod.train.presets.SPEEDS, docs/speed.md).",
    )
    base_model: str = Field(description="Hub id or local folder of the model to fine-tune.")
    data: list[DataSource] = Field(min_length=1, description="The build-data outputs to train on, all of them together.")
    output_dir: Path = Field(
        description="The run folder: checkpoints, the adapter or weights, the log, the settings as resolved."
    )

    adapter: Literal["lora", "qlora"] | None = Field(
        "lora", description="lora, qlora (the base model loaded in 4 bits), or None for full fine-tuning."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings, description="The adapter, with lora or qlora.")
    chat_template: str = Field(
        "tokenizer_default_fallback_llama3",
        description="axolotl chat_template: the tokenizer's own, else Llama-3's (which renders any role name).",
    )
    special_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="Tokens to set on the tokenizer. Empty by default: the pad token is the tokenizer's own, else its "
        "end-of-sequence token (axolotl's fallback), so no new token is added to any vocabulary.",
    )

    sequence_len: int = Field(
        4096, gt=0, description="Tokens in a row; axolotl drops records longer than this (the release: 4096)."
    )
    pad_to_sequence_len: bool = Field(
        True,
        description="Pad every row to sequence_len, as the release's recipe does; the padding is masked and carries no "
        "labels, so it costs compute only (speed: fast turns it off).",
    )
    sample_packing: bool = Field(
        False,
        description="Several records in one sequence_len row, each attending only to itself (axolotl's multipack); "
        "it pays only where records are much shorter than sequence_len.",
    )
    eval_sample_packing: bool = Field(
        False,
        description="With sample_packing, pack the evaluation set too (axolotl's own default). Off, because axolotl "
        "0.19 then builds a new packing sampler, forking packing workers, at every evaluation (docs/speed.md, "
        "'Training speed').",
    )
    micro_batch_size: int = Field(1, gt=0, description="Rows per forward pass on each GPU (the release: 1).")
    gradient_accumulation_steps: int = Field(
        2, gt=0, description="Micro batches per optimizer step (the release: 2 on each of its 2 GPUs)."
    )
    num_epochs: float = Field(4, gt=0, description="Passes over the data (the release: 4).")
    max_steps: int | None = Field(
        None,
        gt=0,
        description="Stop after this many optimizer steps, whatever num_epochs says. axolotl then spreads "
        "evals_per_epoch x num_epochs evaluations over these steps, whatever an epoch's length.",
    )
    learning_rate: float = Field(3e-4, gt=0, description="Peak learning rate (the release: 3e-4).")
    lr_scheduler: str = Field("cosine", description="The schedule after warm-up, an HF Trainer scheduler name.")
    warmup_steps: int = Field(100, ge=0, description="Optimizer steps of linear warm-up to the peak (the release: 100).")
    weight_decay: float = Field(0.01, ge=0, description="Decoupled weight decay (the release: 0.01).")
    optimizer: str = Field(
        "paged_adamw_32bit", description="An HF Trainer optimizer name (the release: bitsandbytes' paged 32-bit AdamW)."
    )
    bf16: bool | Literal["auto"] = Field("auto", description="bfloat16 training; auto: where the GPU supports it.")
    fp16: bool = Field(False, description="float16 mixed precision, for GPUs without bfloat16.")
    tf32: bool = Field(False, description="TensorFloat-32 matrix products on Ampere and later GPUs.")
    flash_attention: bool = Field(
        False, description="axolotl's legacy FlashAttention-2 flag (the release: off); attn_implementation replaces it."
    )
    attn_implementation: str | None = Field(
        None,
        description="axolotl's attention backend (sdpa, flash_attention_2, ...); None: the legacy flash_attention flag decides.",
    )
    gradient_checkpointing: bool = Field(
        True, description="Recompute activations in the backward pass instead of keeping them: less memory, more compute."
    )

    val_set_size: float = Field(
        0.01, ge=0, description="Share of the records held out for axolotl's evaluation loss (0: no evaluation)."
    )
    evals_per_epoch: int | None = Field(
        10, gt=0, description="axolotl's evaluations per epoch (see max_steps for capped runs); None: none."
    )
    saves_per_epoch: int | None = Field(1, gt=0, description="Checkpoints per epoch; None: save_steps decides.")
    save_steps: int | None = Field(None, gt=0, description="A checkpoint every this many optimizer steps.")
    logging_steps: int = Field(
        1, gt=0, description="Optimizer steps between loss logs; the throughput after warm-up counts in these logs."
    )
    seed: int | None = Field(
        None, description="The random seed (data shuffling, the adapter's initialisation); the release sets none."
    )

    distributed: DistributedSettings = Field(
        default_factory=DistributedSettings, description="Several GPUs or machines."
    )
    tracking: TrackingSettings = Field(default_factory=TrackingSettings, description="W&B and TensorBoard.")
    docker: DockerSettings = Field(default_factory=DockerSettings, description="The docker backend's image and mounts.")
    axolotl: dict[str, Any] = Field(
        default_factory=dict, description="Raw axolotl keys added last (checked against axolotl's schema)."
    )

    _absolute_output = field_validator("output_dir")(_absolute)

    @field_validator("base_model")
    @classmethod
    def _local_model_absolute(cls, value: str) -> str:
        local = Path(value).expanduser()
        if local.exists():
            return str(local.absolute())
        if value.startswith(("/", "./", "../", "~")):
            raise ValueError(f"the model folder {value} does not exist (a hub id looks like org/name)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrainSettings:
        if self.saves_per_epoch is not None and self.save_steps is not None:
            raise ValueError("set saves_per_epoch or save_steps, not both")
        if self.bf16 is True and self.fp16:
            raise ValueError("bf16 and fp16 cannot both be true")
        if self.flash_attention and self.attn_implementation:
            raise ValueError(
                f"flash_attention: true and attn_implementation: {self.attn_implementation} name two attention backends; "
                "set attn_implementation: flash_attention_2 (and flash_attention: false) instead"
            )
        return self
