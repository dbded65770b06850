"""The architecture only: a recurrent layer over a window and a linear head to one value."""

from __future__ import annotations

import torch
from torch import nn

from app.forecasting.config import ModelConfig

_RECURRENT_LAYERS: dict[str, type[nn.LSTM] | type[nn.GRU] | type[nn.RNN]] = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "rnn": nn.RNN,
}


class RecurrentRegressor(nn.Module):
    """`nn.LSTM(1, hidden)` (or GRU / tanh RNN) + `nn.Linear(hidden, 1)`, as in the tutorial.

    Every window starts from a zero state (PyTorch's default when no state is passed), which is
    what the tutorial does by resetting `model.hidden` before each window.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = _RECURRENT_LAYERS[config.cell](
            input_size=1,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
        )
        self.head = nn.Linear(config.hidden_size, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, T) windows -> (B,) predictions of the value after each window."""
        outputs, _ = self.rnn(windows.unsqueeze(-1))  # (B, T, 1) -> (B, T, H)
        prediction: torch.Tensor = self.head(outputs[:, -1, :])  # (B, H) -> (B, 1)
        return prediction.squeeze(-1)  # (B,)
