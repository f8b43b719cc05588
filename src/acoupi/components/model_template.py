"""A toy detection model, for trying programs without a real model."""

from acoupi import data
from acoupi.components.types import Model

__all__ = ["TestModel"]


class TestModel(Model):
    """Pretend to detect one species in every recording that has a file.

    Outputs are named ``"TestModel"`` (also the class attribute ``name``,
    which programs use to require this model's output).
    """

    name = "TestModel"

    # Not a pytest test class, despite its name.
    __test__ = False

    def run(self, recording: data.Recording) -> data.ModelOutput:
        """Return one fixed detection, or nothing when there is no file."""
        if not recording.path:
            return data.ModelOutput(name_model=self.name, recording=recording)
        detection = data.Detection(
            location=data.BoundingBox.from_coordinates(0, 4000, 1, 8000),
            detection_score=0.9,
            tags=[
                data.PredictedTag(
                    tag=data.Tag(key="species", value="scientific_name"),
                    confidence_score=0.9,
                )
            ],
        )
        return data.ModelOutput(
            name_model=self.name,
            recording=recording,
            detections=[detection],
        )
