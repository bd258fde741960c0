"""Size limits of the readers, in one place (issue #12 "lose nothing, hang on nothing").

The resource contract (docs/errors.md): any single input of up to 2 GB is diagnosed or refused
with at most 1.5 GB of resident memory, in time linear in its size. Every format is streamed
where it allows (TFRecord in chunks, CSV rows, JSON Lines, MLflow metric lines); what cannot be
streamed, or what no genuine training log comes near, is bounded here. Crossing a limit is a
one-line warning (the rest of the log is still used) or, when nothing sensible is left, a
one-line LogError naming the file. The numbers are generous: each is far above what a real log
of that kind holds, and well below what would break the contract.
"""

from __future__ import annotations

MiB = 1 << 20

#: A TFRecord longer than this cannot be a scalar event (a GraphDef can be: it is skipped).
MAX_RECORD_BYTES = 64 * MiB
#: One line of a CSV/TSV, a JSON Lines file or an MLflow metric file.
MAX_LINE_CHARS = 16 * MiB
#: Series (columns, tags, keys, metric files) kept per log; the first ones win.
MAX_SERIES = 10_000
#: Numeric points kept per log (CSV cells, JSON Lines values, event scalars): about 25 bytes
#: each once read, so 40 million points stay below 1 GB. Past it, the rest of the log is ignored.
MAX_POINTS = 40_000_000
#: A whole JSON document (trainer_state.json, history.json, config.json): parsed in one piece.
MAX_JSON_BYTES = 128 * MiB
#: A YAML file beside a log (hparams.yaml, args.yaml, MLflow meta.yaml): hyper-parameters only.
MAX_YAML_BYTES = 4 * MiB
#: One MLflow param or tag value (MLflow itself stores at most 8,000 characters).
MAX_VALUE_BYTES = 1 * MiB


def size_text(size: int) -> str:
    """``size`` bytes for a message: '60 MB', '1.1 GB', '512 bytes'."""
    if size >= 1 << 30:
        return f"{size / (1 << 30):.1f} GB"
    if size >= MiB:
        return f"{size / MiB:.0f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"
