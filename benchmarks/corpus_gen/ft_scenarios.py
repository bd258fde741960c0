"""Scenario families of fine-tuning failures (issue #17): a tiny GPT-2 / BERT really pre-trained
on a generated world (``pretrained.py``) and fine-tuned with the HF Trainer or Lightning, and a
tiny GPT-2 policy trained with TRL's GRPO.

Every run starts from a healthy fine-tuning configuration of its task (``_ft_base``: AdamW,
warm-up and linear or cosine decay, clipping at 1.0, as HF scripts keep them) plus its fault. The
families are a group of their own in ``scenarios.build_specs``: split by family within the group
and numbered after the runs of issue #10.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from corpus_gen.recipe import Finetune, Logging, Model, Optim, Recipe, Rl
from corpus_gen.scenarios import Family, Maker, Rng, _pick, _seed, _set

WORLDS = (1, 2)  # the pre-trained bases are shared by all runs of a world (cached)


def _ft_logging(rng: Rng, fw: str, every: int, evals: int) -> Logging:
    if fw == "hf":
        formats = ("save_state",) if rng.random() < 0.5 else ()
        return Logging(every, evals, formats, "canonical", False, True, True)
    if fw == "lightning":
        formats = ("csv",) if rng.random() < 0.6 else ("tensorboard",)
        return Logging(every, evals, formats, "canonical", False, bool(rng.random() < 0.6),
                       False)
    return Logging(every, 1, (), "canonical", False, True, True)


def _ft_base(task: str, rng: Rng, fw: str) -> Recipe:
    """A healthy fine-tune of ``task`` (randomised within sensible settings)."""
    seed = _seed(rng)
    world = int(_pick(rng, WORLDS))
    schedule = str(_pick(rng, ["linear", "linear", "cosine"]))
    warmup = float(_pick(rng, [0.06, 0.1]))
    if task == "lm":
        return Recipe(task="lm", framework=fw, num_classes=0,
                      n_train=int(_pick(rng, [1000, 1200, 1500])), n_val=300, seq_len=16,
                      vocab=32, model=Model("gpt", 32, 2, activation="gelu"),
                      optim=Optim("adamw", float(_pick(rng, [5e-4, 1e-3, 2e-3])),
                                  weight_decay=0.01, schedule=schedule, warmup_frac=warmup,
                                  clip_norm=1.0),
                      batch_size=32, epochs=int(_pick(rng, [2, 3])),
                      finetune=Finetune(world=world, shift=float(_pick(rng, [0.3, 0.4]))),
                      seed=seed)
    if task == "transformer_cls":
        return Recipe(task="transformer_cls", framework=fw, num_classes=int(_pick(rng, [3, 4])),
                      n_train=int(_pick(rng, [1200, 1500])), n_val=300, seq_len=16, vocab=32,
                      model=Model("transformer", 32, 2, activation="gelu"),
                      optim=Optim("adamw", float(_pick(rng, [2e-3, 3e-3])), weight_decay=0.01,
                                  schedule=schedule, warmup_frac=warmup, clip_norm=1.0),
                      batch_size=32, epochs=4,
                      finetune=Finetune(world=world, shift=float(_pick(rng, [0.4, 0.5]))),
                      seed=seed)
    if task == "rl":
        return Recipe(task="rl", framework=fw, num_classes=0, n_train=64, n_val=0, seq_len=16,
                      vocab=32, model=Model("gpt", 32, 2, activation="gelu"),
                      optim=Optim("adamw", float(_pick(rng, [2e-4, 3e-4])), schedule="linear"),
                      batch_size=8, epochs=1, max_steps=int(_pick(rng, [60, 80])),
                      finetune=Finetune(world=world), rl=Rl(), seed=seed)
    raise ValueError(task)


def _ft(r: Recipe, **kw: Any) -> Recipe:
    assert r.finetune is not None
    return replace(r, finetune=replace(r.finetune, **kw))


def _desc(r: Recipe) -> str:
    model = {"lm": "GPT-2 LM", "transformer_cls": "BERT classifier", "rl": "GPT-2 policy"}
    return f"{model[r.task]}, AdamW lr={r.optim.lr:g}, {r.epochs} epoch(s)"


def _make(task: str, fn: Any) -> Maker:
    """A maker from a healthy fine-tune of ``task`` and ``fn(rng, base, i, fw) -> (recipe,
    desc, {"every": …, "evals": …})``."""
    def make(rng: Rng, i: int, fw: str) -> tuple[Recipe, str]:
        base = _ft_base(task, rng, fw)
        r, desc, log = fn(rng, base, i, fw)
        every = log.get("every") or int(_pick(rng, [2, 5]))
        evals = log.get("evals") or int(_pick(rng, [2, 3]))
        return replace(r, log=_ft_logging(rng, fw, every, evals)), desc
    return make


# ------------------------------------------------------------------------------ healthy


def _healthy(variant: str) -> Any:
    def fn(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
        log: dict[str, Any] = {}
        desc = f"healthy fine-tune: {_desc(r)}, warm-up + {r.optim.schedule} decay"
        if variant == "early_stop":
            r = _set(r, epochs=int(_pick(rng, [6, 8])), faults={"_early_stop": 3})
            desc = (f"healthy multi-epoch fine-tune, early stopping on eval_loss (patience 3 "
                    f"epochs): {_desc(r)}")
            log["evals"] = 1
        elif variant == "grad_accum":
            accum = int(_pick(rng, [2, 4]))
            r = _ft(_set(r, batch_size=32 // accum), grad_accum=accum)
            desc = (f"healthy fine-tune, gradient accumulation {accum} × batch "
                    f"{r.batch_size} with the stock loss: {_desc(r)}")
        elif variant == "two_evals":
            r = _ft(r, eval_sets=("original", "new"), replay=float(_pick(rng, [0.4, 0.5])))
            log["evals"] = 4
            desc = (f"healthy fine-tune with {r.finetune.replay:.0%} replay of the original "
                    f"text, eval on the original and the new task: {_desc(r)}")
        elif variant == "short":
            r = _set(r, epochs=1, optim_lr=r.optim.lr * 2, n_train=int(_pick(rng, [1500, 2000])))
            log.update(every=2, evals=4)
            desc = f"healthy short fine-tune (one epoch): {_desc(r)}"
        elif variant == "rl":
            desc = (f"healthy GRPO: tiny GPT-2 policy, reward best at half topic words, "
                    f"beta={r.rl.beta:g}, lr={r.optim.lr:g}")
            log["every"] = 2
        return r, desc, log
    return fn


HEALTHY_FT_FAMILIES: list[Family] = [
    Family("healthy", "healthy GPT-2 topic fine-tune", ("hf", "lightning", "hf"),
           _make("lm", _healthy("plain")), 4),
    Family("healthy", "healthy BERT classifier fine-tune", ("hf",),
           _make("transformer_cls", _healthy("plain")), 3),
    Family("healthy", "healthy multi-epoch fine-tune with early stopping", ("hf",),
           _make("transformer_cls", _healthy("early_stop")), 3),
    Family("healthy", "healthy fine-tune with gradient accumulation", ("hf",),
           _make("lm", _healthy("grad_accum")), 3),
    Family("healthy", "healthy fine-tune, original and new eval sets", ("hf", "lightning"),
           _make("lm", _healthy("two_evals")), 4),
    Family("healthy", "healthy short fine-tune", ("hf", "lightning"),
           _make("lm", _healthy("short")), 3),
    Family("healthy", "healthy GRPO policy", ("trl",), _make("rl", _healthy("rl")), 3),
]


# ------------------------------------------------------------------------------- faults


def _bad_batches(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
    n = int(_pick(rng, [4, 6]))
    what = ("a shard tokenised with another vocabulary" if r.task == "lm"
            else "labels shuffled within the batch")
    r = _set(r, faults={"bad_batches": n})
    return r, f"{n} corrupt batches mid-run ({what}): {_desc(r)}", {
        "every": int(_pick(rng, [1, 1, 2]))}


def _fp16(mode: str) -> Any:
    def fn(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
        r = _set(r, faults={"fp16": mode})
        what = ("model.half(): float16 weights and AdamW states, no loss scaling" if mode == "half"
                else "fp16 autocast with a hand-rolled loss scale that doubles every 20 steps "
                     "and never backs off")
        return r, f"{what}: {_desc(r)}", {}
    return fn


def _masking(fault: str) -> Any:
    def fn(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
        r = _set(r, faults={fault: True})
        what = {"labels_unshifted": "custom compute_loss scores the logits at t against the "
                                    "token at t (labels not shifted): the labels leak",
                "pad_not_masked": "padded training examples keep their pad labels (not -100); "
                                  "the packed eval set has no padding",
                "labels_all_masked": "completion-only masking whose response template never "
                                     "matches: every label is -100"}[fault]
        return r, f"{what}: {_desc(r)}", {}
    return fn


def _grad_accum(where: str) -> Any:
    def fn(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
        accum = int(_pick(rng, [2, 4, 8]))
        r = _ft(_set(r, batch_size=max(4, 32 // accum), faults={"ga_loss_not_scaled": where}),
                grad_accum=accum)
        what = ("custom compute_loss returns the micro-batch mean" if where == "custom_loss"
                else "stock Trainer: BertForSequenceClassification takes **kwargs but ignores "
                     "num_items_in_batch")
        return r, (f"{what}; gradient_accumulation_steps={accum}: the Trainer never divides by "
                   f"it, the logged loss is {accum}× ({_desc(r)})"), {}
    return fn


def _ft_overfit(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
    n = int(_pick(rng, [48, 64, 96]))
    r = _ft(_set(r, n_train=n, batch_size=8, epochs=10,
                 model_width=64, optim_lr=float(_pick(rng, [2e-3, 2.5e-3])),
                 optim_schedule="constant", optim_warmup_frac=0.0, optim_weight_decay=0.0),
            shift=0.5)
    return r, (f"{n} fine-tuning sequences, {r.epochs} epochs, eval every half epoch "
               f"({_desc(r)}): memorises"), {"every": 1, "evals": 2}


def _forgetting(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
    shift = float(_pick(rng, [0.6, 0.7]))
    r = _ft(_set(r, optim_lr=float(_pick(rng, [2e-3, 3e-3])), epochs=int(_pick(rng, [3, 4])),
                 n_train=1200), shift=shift, eval_sets=("original", "new"))
    return r, (f"fine-tune on a far topic (shift {shift:g}) with no replay, eval on the "
               f"original text and the new topic ({_desc(r)})"), {"evals": 4, "every": 4}


def _schedule(bug: str) -> Any:
    def fn(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
        log: dict[str, Any] = {}
        if bug == "warmup_past_end":
            r = _set(r, faults={"schedule_bug": bug})
            desc = "warmup_steps twice the run's steps: the LR still rises at the end"
        elif bug == "one_epoch_schedule":  # get_linear_schedule_with_warmup(len(loader))
            r = _set(r, faults={"schedule_bug": bug}, epochs=int(_pick(rng, [4, 5])),
                     optim_schedule="linear")
            desc = (f"the scheduler planned for one epoch of {r.epochs}: the LR is 0 after the "
                    "first")
        else:
            per_epoch = -(-r.n_train // r.batch_size)
            steps = max(8, int(per_epoch * float(_pick(rng, [0.2, 0.3]))))
            r = _set(r, faults={"schedule_bug": bug}, max_steps=steps)
            desc = (f"max_steps={steps} where {r.epochs} epochs ({per_epoch * r.epochs} steps) "
                    "were meant: the schedule ends inside the first epoch")
            log["every"] = 1
        return r, f"{desc} ({_desc(r)})", log
    return fn


def _lr_range(level: str) -> Any:
    def fn(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
        if level == "high":
            lr = float(_pick(rng, [5e-2, 1e-1]) if r.task == "transformer_cls"
                       else _pick(rng, [1e-1, 2e-1]))
        else:
            lr = float(_pick(rng, [1e-7, 3e-8]))
        r = _set(r, optim_lr=lr)
        return r, f"AdamW lr={lr:g} on the pre-trained model ({_desc(r)})", {}
    return fn


def _rl_collapse(kind: str) -> Any:
    def fn(rng: Rng, r: Recipe, i: int, fw: str) -> tuple[Recipe, str, dict]:
        assert r.rl is not None
        if kind == "high_lr":
            lr = float(_pick(rng, [2e-2, 5e-2]))
            r = replace(_set(r, optim_lr=lr), rl=replace(r.rl, reward="topic_words"))
            desc = (f"GRPO lr={lr:g} (×100), reward = share of topic words: the policy "
                    "collapses onto them, KL to the reference jumps")
        else:
            r = replace(_set(r, faults={"reward_hackable": True},
                             optim_lr=float(_pick(rng, [2e-3, 5e-3]))),
                        rl=replace(r.rl, beta=0.0, reward="one_token"))
            desc = (f"GRPO beta=0 with a hackable reward (the share of one token), "
                    f"lr={r.optim.lr:g}: the policy emits only that token")
        return r, desc, {"every": 2}
    return fn


_LR_HIGH = ("lr_too_high",)
FAULT_FT_FAMILIES: list[Family] = [
    # loss_spikes
    Family("loss_spikes", "corrupt batches mid-run (GPT-2 fine-tune)", ("hf", "lightning"),
           _make("lm", _bad_batches), 3, ("lr_too_high", "exploding_gradients")),
    Family("loss_spikes", "shuffled-label batches (BERT fine-tune)", ("hf",),
           _make("transformer_cls", _bad_batches), 3, ("lr_too_high", "exploding_gradients")),
    # mixed_precision_overflow
    Family("mixed_precision_overflow", "model.half() fine-tune (GPT-2)", ("hf",),
           _make("lm", _fp16("half")), 2, ("numerical_instability",)),
    Family("mixed_precision_overflow", "model.half() fine-tune (BERT)", ("hf",),
           _make("transformer_cls", _fp16("half")), 2, ("numerical_instability",)),
    Family("mixed_precision_overflow", "fp16 loss scale that never backs off (GPT-2)", ("hf",),
           _make("lm", _fp16("static_scale")), 2, ("numerical_instability",)),
    # label_masking_bug
    Family("label_masking_bug", "causal-LM labels not shifted", ("hf",),
           _make("lm", _masking("labels_unshifted")), 2, ("custom_loss_bug",)),
    Family("label_masking_bug", "pad tokens not masked to -100", ("hf",),
           _make("lm", _masking("pad_not_masked")), 2, ("data_pipeline_bug",)),
    Family("label_masking_bug", "every label masked to -100", ("hf",),
           _make("lm", _masking("labels_all_masked")), 2, ("data_pipeline_bug",)),
    # grad_accumulation_bug
    Family("grad_accumulation_bug", "custom compute_loss with gradient accumulation (GPT-2)",
           ("hf",), _make("lm", _grad_accum("custom_loss")), 3, ("custom_loss_bug",)),
    Family("grad_accumulation_bug", "stock BERT classifier with gradient accumulation",
           ("hf",), _make("transformer_cls", _grad_accum("model_ignores_num_items")), 3),
    # finetune_overfitting
    Family("finetune_overfitting", "GPT-2 fine-tune on 48-96 sequences, 10 epochs", ("hf",),
           _make("lm", _ft_overfit), 3, ("overfitting", "too_few_samples")),
    Family("finetune_overfitting", "Lightning GPT-2 fine-tune, few sequences, many epochs",
           ("lightning",), _make("lm", _ft_overfit), 3, ("overfitting", "too_few_samples")),
    # catastrophic_forgetting
    Family("catastrophic_forgetting", "GPT-2 on a far topic, eval_dataset dict", ("hf",),
           _make("lm", _forgetting), 3, ("finetune_overfitting",)),
    Family("catastrophic_forgetting", "Lightning GPT-2 on a far topic, two val loaders",
           ("lightning",), _make("lm", _forgetting), 3, ("finetune_overfitting",)),
    # lr_schedule_misconfigured
    Family("lr_schedule_misconfigured", "warm-up longer than the run", ("hf",),
           _make("lm", _schedule("warmup_past_end")), 2, ("lr_too_low",)),
    Family("lr_schedule_misconfigured", "scheduler planned for one epoch", ("hf",),
           _make("lm", _schedule("one_epoch_schedule")), 2,
           ("lr_schedule_too_aggressive",)),
    Family("lr_schedule_misconfigured", "max_steps far below one epoch", ("hf",),
           _make("transformer_cls", _schedule("max_steps_short")), 2,
           ("not_trained_long_enough",)),
    # finetune_lr_out_of_range
    Family("finetune_lr_out_of_range", "AdamW 0.05-0.1 on the pre-trained BERT", ("hf",),
           _make("transformer_cls", _lr_range("high")), 2, _LR_HIGH),
    Family("finetune_lr_out_of_range", "AdamW 0.1-0.2 on the pre-trained GPT-2", ("hf",),
           _make("lm", _lr_range("high")), 2, _LR_HIGH),
    Family("finetune_lr_out_of_range", "AdamW 1e-7 / 3e-8 that never moves the loss", ("hf",),
           _make("lm", _lr_range("low")), 2, ("lr_too_low",)),
    # rl_policy_collapse
    Family("rl_policy_collapse", "GRPO with a 100× learning rate", ("trl",),
           _make("rl", _rl_collapse("high_lr")), 3, _LR_HIGH),
    Family("rl_policy_collapse", "GRPO beta=0 with a hackable reward", ("trl",),
           _make("rl", _rl_collapse("hackable")), 3),
]

FT_FAMILIES: list[Family] = HEALTHY_FT_FAMILIES + FAULT_FT_FAMILIES
