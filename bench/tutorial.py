"""A faithful re-implementation of the tutorial's LSTM (the baseline every figure is compared with).

Batch size 1, SGD lr 0.01, MSELoss, a fresh zero state before every window, `torch.manual_seed`
right before the model is built, and the per-step forecast loop under `torch.no_grad()`. Only
the timing and the per-epoch bookkeeping are added. With seed 42 it reproduces the tutorial's
printed numbers (epoch 1 loss 0.09212875, epoch 10 loss 0.00013195, test MSE 0.00889757).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

WINDOW_SIZE = 40
TEST_SIZE = 40
TUTORIAL_TEST_MSE = 0.0089  # the tutorial's holdout MSE after its 10 epochs (0.00889757)


def sine() -> torch.Tensor:
    """The tutorial's series: 800 float32 points, 40 per cycle."""
    x = torch.linspace(0, 799, steps=800)
    return torch.sin(x * 2 * 3.1416 / 40)


def input_data(seq: torch.Tensor, ws: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The tutorial's (window, label) tuples."""
    out = []
    for i in range(len(seq) - ws):
        window = seq[i : i + ws]
        label = seq[i + ws : i + ws + 1]
        out.append((window, label))
    return out


class LSTM(nn.Module):
    """The tutorial's model, verbatim: nn.LSTM(1, 50) + nn.Linear(50, 1), state in `self.hidden`."""

    def __init__(self, input_size: int = 1, hidden_size: int = 50, out_size: int = 1) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size)
        self.linear = nn.Linear(hidden_size, out_size)
        self.hidden = (torch.zeros(1, 1, hidden_size), torch.zeros(1, 1, hidden_size))

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        lstm_out, self.hidden = self.lstm(seq.view(len(seq), 1, -1), self.hidden)
        pred: torch.Tensor = self.linear(lstm_out.view(len(seq), -1))
        return pred[-1]  # we only care about the last prediction


def reset_state(model: LSTM) -> None:
    model.hidden = (torch.zeros(1, 1, model.hidden_size), torch.zeros(1, 1, model.hidden_size))


def forecast(model: LSTM, window: list[float], future: int) -> list[float]:
    """The tutorial's autoregressive loop: one fresh-state pass over the last window per step."""
    preds = list(window)
    for _ in range(future):
        seq = torch.FloatTensor(preds[-WINDOW_SIZE:])
        with torch.no_grad():
            reset_state(model)
            preds.append(model(seq).item())
    return preds[len(window) :]


@dataclass(frozen=True, slots=True)
class EpochRecord:
    epoch: int
    last_loss: float  # the loss of the epoch's last window, as the tutorial prints it
    test_mse: float  # the tutorial's "Loss on test predictions"
    train_seconds: float  # cumulative training time, evaluation excluded


def train(seed: int, max_epochs: int, stop_at_mse: float | None = None) -> list[EpochRecord]:
    """Train the tutorial's way, evaluating the holdout forecast after every epoch.

    Stops after `max_epochs`, or at the first epoch whose test MSE is <= `stop_at_mse`.
    """
    y = sine()
    train_set = y[:-TEST_SIZE]
    train_data = input_data(train_set, WINDOW_SIZE)
    torch.manual_seed(seed)
    model = LSTM()
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    records: list[EpochRecord] = []
    trained = 0.0
    for i in range(max_epochs):
        started = time.perf_counter()
        for seq, y_train in train_data:
            optimizer.zero_grad()
            reset_state(model)
            y_pred = model(seq)
            loss = criterion(y_pred, y_train)
            loss.backward()
            optimizer.step()
        trained += time.perf_counter() - started
        preds = forecast(model, train_set[-WINDOW_SIZE:].tolist(), TEST_SIZE)
        test_mse = criterion(torch.tensor(preds), y[-TEST_SIZE:]).item()
        records.append(EpochRecord(i + 1, loss.item(), test_mse, trained))
        if stop_at_mse is not None and test_mse <= stop_at_mse:
            break
    return records


def from_state(state: Mapping[str, torch.Tensor]) -> LSTM:
    """The tutorial's module holding our weights: rnn.* -> lstm.*, head.* -> linear.*."""
    model = LSTM()
    renamed = {
        name.replace("rnn.", "lstm.", 1).replace("head.", "linear.", 1): tensor
        for name, tensor in state.items()
    }
    model.load_state_dict(renamed, strict=True)
    model.eval()
    return model
