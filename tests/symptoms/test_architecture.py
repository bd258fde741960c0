"""architecture from the names of logged per-layer series."""

from __future__ import annotations

import numpy as np

from tests.symptoms.synth import STEPS, make_run, value


def _run(*layers: str):
    flat = (STEPS, np.full(STEPS.size, 0.1))
    series = {f"nndoctor/grad_norm/{i:02d}-{name}": flat for i, name in enumerate(layers)}
    return make_run(train_loss=(STEPS, np.linspace(2.3, 0.5, STEPS.size)), **series)


def test_a_recurrent_module_makes_the_network_recurrent():
    assert value(_run("net.body.rnn", "net.head"), "architecture") == "rnn"
    assert value(_run("encoder.lstm", "fc"), "architecture") == "rnn"
    assert value(_run("conv1", "gru", "head"), "architecture") == "rnn"  # a CRNN is recurrent


def test_attention_and_convolutions():
    assert value(_run("encoder.layer.0.attention.self", "classifier"), "architecture") \
        == "transformer"
    assert value(_run("features.conv1", "features.conv2", "fc"), "architecture") == "cnn"


def test_plain_linear_layers_and_plain_logs_conclude_nothing():
    assert value(_run("net.0", "net.2", "net.4"), "architecture") is None
    assert value(_run("layers.fc1", "head"), "architecture") is None
    assert value(make_run(train_loss=(STEPS, np.linspace(2.3, 0.5, STEPS.size))),
                 "architecture") is None


def test_words_that_merely_contain_the_letters_do_not_count():
    assert value(_run("deconvolved.fc", "grumpy_head"), "architecture") is None
