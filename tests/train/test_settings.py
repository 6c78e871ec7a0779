"""The training settings a user writes: every field, nested ones too, says what it does."""

from __future__ import annotations

from pydantic import BaseModel

from spec_tod.train.settings import TrainSettings


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            found += _models(nested)
        for argument in getattr(nested, "__args__", ()):
            if isinstance(argument, type) and issubclass(argument, BaseModel):
                found += _models(argument)
    return found


def test_every_training_setting_has_a_description() -> None:
    models = _models(TrainSettings)
    assert {model.__name__ for model in models} == {
        "TrainSettings", "DataSource", "LoraSettings", "DistributedSettings", "TrackingSettings", "DockerSettings"
    }  # fmt: skip
    undocumented = [f"{model.__name__}.{name}" for model in models for name, field in model.model_fields.items() if not field.description]
    assert undocumented == []
