"""TRL backend: GRPO (``trl.GRPOTrainer``) of a tiny GPT-2 policy with a toy reward.

The policy is the world's pre-trained GPT-2 (``pretrained.py``, passed by path, so TRL loads the
reference model from the same weights), its tokenizer a word-level ``PreTrainedTokenizerFast``
over the world's tokens (``t0`` … and ``<eos>``) built offline. Prompts are four-token snippets
of the original text; completions are ``Rl.completion_len`` tokens. Rewards (``Rl.reward``):
``topic_share`` — 1 at half of the completion's tokens among one topic's words, falling
linearly either side (learnable, and best for a policy that keeps its language);
``topic_words`` — the share of the topic's words (more is always better: it pulls the policy
onto them); ``one_token`` — the share of one token (hackable: emitting only it gets 1.0).
Files: the Trainer's ``checkpoint-N/trainer_state.json`` (TRL's ``reward``, ``reward_std``,
``kl``, ``entropy``, ``rewards/<func>/mean`` …) and TensorBoard under ``runs/``. Runs are
skipped when ``trl`` is not installed (``AVAILABLE``).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np

from corpus_gen import ft_data, pretrained
from corpus_gen import torch_parts as tp
from corpus_gen.backend_hf import quiet_transformers
from corpus_gen.recipe import Recipe

AVAILABLE = importlib.util.find_spec("trl") is not None
SUPPORTED_FAULTS: set[str] = {"reward_hackable"}
PROMPT_TOKENS = 4
TARGET_TOKEN = 5  # the one_token reward's token
TOPIC_SHARE = 0.5  # the topic_share reward's best share of topic words


def tokenizer(vocab: int) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {f"t{i}": i for i in range(vocab)}
    words["<eos>"] = vocab
    tok = Tokenizer(models.WordLevel(words, unk_token="<eos>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<eos>",
                                   unk_token="<eos>")
    fast.padding_side = "left"
    return fast


def reward_function(recipe: Recipe) -> Any:
    """The recipe's reward over the completions' text (TRL's ``reward_funcs`` contract)."""
    assert recipe.rl is not None
    ft = recipe.finetune
    assert ft is not None
    kind = recipe.rl.reward
    if kind == "one_token":
        wanted = {f"t{TARGET_TOKEN}"}
    else:
        topic = ft_data.world(ft.world, recipe.vocab).topics[ft_data.topic(recipe)]
        wanted = {f"t{i}" for i in np.flatnonzero(topic.sum(axis=0) > 0)}

    def reward(completions: list[str], **kwargs: Any) -> list[float]:
        out = []
        for text in completions:
            tokens = text.split()
            share = sum(t in wanted for t in tokens) / max(1, len(tokens))
            out.append(1.0 - 2.0 * abs(share - TOPIC_SHARE) if kind == "topic_share" else share)
        return out

    reward.__name__ = recipe.rl.reward
    return reward


def _prompts(recipe: Recipe) -> list[str]:
    ft = recipe.finetune
    assert ft is not None
    rng = np.random.default_rng(recipe.seed)
    w = ft_data.world(ft.world, recipe.vocab)
    text = ft_data.original_text(w, recipe.n_train, PROMPT_TOKENS, rng)
    return [" ".join(f"t{i}" for i in row) for row in text]


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """GRPO of the pre-trained policy into ``out_dir``."""
    if not AVAILABLE:
        raise RuntimeError("trl is not installed (pip install trl==1.16.0)")
    quiet_transformers()
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    assert recipe.rl is not None
    started = time.perf_counter()
    out_dir = Path(out_dir)
    tp.seed_everything(recipe)
    rl, o, log = recipe.rl, recipe.optim, recipe.log
    steps = recipe.max_steps or 100
    args = GRPOConfig(
        output_dir=str(out_dir), report_to=["tensorboard"], use_cpu=True, seed=recipe.seed,
        data_seed=recipe.seed, learning_rate=o.lr, lr_scheduler_type=o.schedule,
        beta=rl.beta, num_generations=rl.num_generations,
        per_device_train_batch_size=recipe.batch_size, max_completion_length=rl.completion_len,
        logging_steps=log.every_n_steps, max_steps=steps, save_strategy="steps",
        save_steps=steps, disable_tqdm=True, dataloader_num_workers=0)
    trainer = GRPOTrainer(
        model=str(pretrained.base_path(recipe)), reward_funcs=reward_function(recipe),
        args=args, train_dataset=Dataset.from_dict({"prompt": _prompts(recipe)}),
        processing_class=tokenizer(recipe.vocab))
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    series: dict[str, list[list[float]]] = {}
    for entry in trainer.state.log_history:
        for key in ("reward", "reward_std", "kl", "entropy", "loss"):
            if key in entry and "step" in entry:
                series.setdefault(key, []).append([entry["step"], float(entry[key])])
    return {"steps": int(trainer.state.global_step), "seconds": time.perf_counter() - started,
            "series": series}
