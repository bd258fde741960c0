"""The corpus datasets as numpy arrays, with the data-level faults of a Recipe applied.

Only sklearn's bundled datasets (digits, wine, breast cancer, diabetes) and generated arrays: no
download. ``make_data(recipe)`` is deterministic in ``recipe.seed``.

Shapes: tabular/regression ``(n, features)`` float32; image8 ``(n, 1, 8, 8)`` float32 (channels
first; Keras backends transpose); sequence ``(n, seq_len, features)`` float32; transformer_cls and
lm ``(n, seq_len)`` int64 token ids (lm: ``y`` is the input shifted by one, ``(n, seq_len)``).
Classification ``y`` is int64 class ids; regression ``y`` is float32 ``(n,)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpus_gen.recipe import Recipe


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int  # 0 for regression; the vocabulary size for lm

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _rng(recipe: Recipe, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng(1_000_003 * (recipe.seed + 1) + salt)


def _split(x: np.ndarray, y: np.ndarray, n_train: int, n_val: int,
           rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    order = rng.permutation(len(x))
    n_train = min(n_train, len(x) - n_val)
    tr, va = order[:n_train], order[n_train:n_train + n_val]
    return x[tr], y[tr], x[va], y[va]


def _tabular(recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    c = recipe.num_classes
    source = recipe.faults.get("_dataset", "generated")
    if source == "wine" or (source == "generated" and c == 3 and recipe.seed % 3 == 0):
        from sklearn.datasets import load_wine

        x, y = load_wine(return_X_y=True)
        x = np.tile(x, (12, 1)) + rng.normal(0, 0.05, size=(len(x) * 12, x.shape[1])) * x.std(0)
        y = np.tile(y, 12)
    elif source == "breast_cancer" or (source == "generated" and c == 2 and recipe.seed % 2 == 0):
        from sklearn.datasets import load_breast_cancer

        x, y = load_breast_cancer(return_X_y=True)
        x = np.tile(x, (5, 1)) + rng.normal(0, 0.05, size=(len(x) * 5, x.shape[1])) * x.std(0)
        y = np.tile(y, 5)
    else:
        from sklearn.datasets import make_classification

        x, y = make_classification(
            n_samples=recipe.n_train + recipe.n_val, n_features=20, n_informative=10,
            n_redundant=4, n_classes=c, n_clusters_per_class=2, class_sep=1.2, flip_y=0.01,
            random_state=int(rng.integers(1 << 30)))
        x = x * rng.uniform(0.5, 3.0, size=x.shape[1]) + rng.normal(0, 2.0, size=x.shape[1])
    return _split(x.astype(np.float64), y.astype(np.int64), recipe.n_train, recipe.n_val, rng)


def _image8(recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)  # 1797 images, 8×8, pixel values 0..16
    keep = y < recipe.num_classes
    x, y = x[keep], y[keep]
    copies = max(1, -(-(recipe.n_train + recipe.n_val) // len(x)))
    if copies > 1:  # jittered copies (shift by one pixel + noise) when more samples are asked
        imgs = np.concatenate([x.reshape(-1, 8, 8)] + [
            np.roll(x.reshape(-1, 8, 8), tuple(rng.integers(-1, 2, size=2)), axis=(1, 2))
            + rng.normal(0, 1.0, size=(len(x), 8, 8)) for _ in range(copies - 1)])
        x, y = imgs.reshape(len(imgs), -1), np.tile(y, copies)
    x = x.reshape(-1, 1, 8, 8)
    return _split(x.astype(np.float64), y.astype(np.int64), recipe.n_train, recipe.n_val, rng)


def _sequence(recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Noisy multichannel sequences; the class is which template motif is embedded, and where."""
    n = recipe.n_train + recipe.n_val
    c, t, f = recipe.num_classes, recipe.seq_len, 4
    motifs = rng.normal(0, 1.0, size=(c, 4, f))
    y = rng.integers(0, c, size=n)
    x = rng.normal(0, 0.8, size=(n, t, f))
    starts = rng.integers(0, t - 4, size=n)
    for i in range(n):
        x[i, starts[i]:starts[i] + 4] += motifs[y[i]]
    return _split(x, y.astype(np.int64), recipe.n_train, recipe.n_val, rng)


def _tokens_cls(recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Token sequences; the class is decided by which of C key tokens occurs most often."""
    n = recipe.n_train + recipe.n_val
    c, t, v = recipe.num_classes, recipe.seq_len, recipe.vocab
    y = rng.integers(0, c, size=n)
    x = rng.integers(c + 1, v, size=(n, t))
    for i in range(n):
        k = int(rng.integers(2, 5))
        pos = rng.choice(t, size=k + 1, replace=False)
        x[i, pos[:k]] = 1 + y[i]  # key tokens are 1..C
        if rng.random() < 0.5:  # one distractor key
            x[i, pos[k]] = 1 + int(rng.integers(0, c))
    return _split(x.astype(np.int64), y.astype(np.int64), recipe.n_train, recipe.n_val, rng)


def markov_chain(rng: np.random.Generator, vocab: int, alpha: float = 0.1) -> np.ndarray:
    """A random sparse transition matrix ``(vocab, vocab)``: each row a Dirichlet(alpha) draw."""
    return rng.dirichlet(np.full(vocab, alpha), size=vocab)


def sample_chain(trans: np.ndarray, n: int, length: int,
                 rng: np.random.Generator) -> np.ndarray:
    """``n`` token sequences of ``length`` from the chain, each starting at a uniform token."""
    v = len(trans)
    seqs = np.zeros((n, length), dtype=np.int64)
    seqs[:, 0] = rng.integers(0, v, size=n)
    cum = trans.cumsum(axis=1)
    for j in range(1, length):
        u = rng.random(n)
        seqs[:, j] = np.minimum((cum[seqs[:, j - 1]] < u[:, None]).sum(axis=1), v - 1)
    return seqs


def _lm(recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Sequences from a sparse random Markov chain: a loss floor well above 0 (its entropy)."""
    n, t, v = recipe.n_train + recipe.n_val, recipe.seq_len + 1, recipe.vocab
    seqs = sample_chain(markov_chain(rng, v), n, t, rng)
    x, y = seqs[:, :-1], seqs[:, 1:]
    return _split(x, y, recipe.n_train, recipe.n_val, rng)


def _regression(recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    if recipe.faults.get("_dataset") == "diabetes" or recipe.seed % 2 == 0:
        from sklearn.datasets import load_diabetes

        x, y = load_diabetes(return_X_y=True)
        reps = max(1, -(-(recipe.n_train + recipe.n_val) // len(x)))
        x = np.tile(x, (reps, 1)) + rng.normal(0, 0.02, size=(len(x) * reps, x.shape[1]))
        y = np.tile(y, reps)
    else:
        from sklearn.datasets import make_regression

        x, y = make_regression(n_samples=recipe.n_train + recipe.n_val, n_features=12,
                               n_informative=8, noise=15.0, random_state=int(rng.integers(1 << 30)))
        y = y + 0.3 * (x[:, 0] ** 2)
    y = (y - y.mean()) / y.std()
    return _split(x.astype(np.float64), y.astype(np.float64), recipe.n_train, recipe.n_val, rng)


_MAKERS = {"tabular": _tabular, "image8": _image8, "sequence": _sequence,
           "transformer_cls": _tokens_cls, "lm": _lm, "regression": _regression}


def _standardise(x_tr: np.ndarray, x_va: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    axes = tuple(range(x_tr.ndim)) if x_tr.ndim > 2 and x_tr.shape[1] == 1 else (0,)
    mean = x_tr.mean(axis=axes, keepdims=True)
    std = x_tr.std(axis=axes, keepdims=True) + 1e-8
    return (x_tr - mean) / std, (x_va - mean) / std, (mean, std)


def make_data(recipe: Recipe) -> Data:
    """Train/validation arrays for the recipe, with its data faults applied."""
    rng = _rng(recipe)
    x_tr, y_tr, x_va, y_va = _MAKERS[recipe.task](recipe, rng)
    faults = recipe.faults
    tokens = recipe.task in ("transformer_cls", "lm")
    if not tokens:
        raw_va = x_va.copy()
        if "val_shift" in faults:  # a validation set from elsewhere: shifted and rescaled
            shift = float(faults["val_shift"])
            scale = x_tr.std(axis=0, keepdims=True) + 1e-8
            x_va = x_va + shift * scale * rng.normal(0, 1, size=(1, *x_va.shape[1:]))
            raw_va = x_va.copy()
        if faults.get("input_offset") or faults.get("input_scale"):
            x_tr = x_tr * float(faults.get("input_scale", 1.0)) + float(
                faults.get("input_offset", 0.0))
            x_va = x_va * float(faults.get("input_scale", 1.0)) + float(
                faults.get("input_offset", 0.0))
        else:
            x_tr, x_va, _ = _standardise(x_tr, x_va)
            if faults.get("val_unnormalized"):
                x_va = raw_va
    if recipe.is_classification and recipe.task != "lm":
        c = recipe.num_classes
        if "imbalance" in faults:
            share = float(faults["imbalance"])
            major = y_tr == 0
            n_minor_keep = int(major.sum() * (1 - share) / share)
            minor_idx = np.flatnonzero(~major)
            keep = np.concatenate([np.flatnonzero(major),
                                   rng.choice(minor_idx, size=min(n_minor_keep, len(minor_idx)),
                                              replace=False)])
            keep.sort()
            x_tr, y_tr = x_tr[keep], y_tr[keep]
            vmajor = y_va == 0  # the validation set is imbalanced the same way
            vkeep = np.concatenate([np.flatnonzero(vmajor), np.flatnonzero(~vmajor)[
                :int(vmajor.sum() * (1 - share) / share)]])
            vkeep.sort()
            x_va, y_va = x_va[vkeep], y_va[vkeep]
        if faults.get("labels_shuffled"):
            y_tr = rng.permutation(y_tr)
        elif faults.get("label_noise"):
            y_tr = y_tr.copy()
            flip = rng.random(len(y_tr)) < float(faults["label_noise"])
            y_tr[flip] = rng.integers(0, c, size=int(flip.sum()))
        if faults.get("sorted_by_label"):
            order = np.argsort(y_tr, kind="stable")
            x_tr, y_tr = x_tr[order], y_tr[order]
    dtype = np.int64 if tokens else np.float32
    y_dtype = np.float32 if recipe.task == "regression" else np.int64
    return Data(x_tr.astype(dtype), y_tr.astype(y_dtype), x_va.astype(dtype),
                y_va.astype(y_dtype), recipe.vocab if recipe.task == "lm" else recipe.num_classes)
