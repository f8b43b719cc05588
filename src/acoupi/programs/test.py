"""A minimal program for trying out the acoupi command line.

It records nothing: its one task prints its configuration every 10 s.
"""

from pydantic import BaseModel

from acoupi.programs.core.base import AcoupiProgram
from acoupi.system.exceptions import HealthCheckError

__all__ = ["TestConfigSchema", "TestProgram"]


class TestConfigSchema(BaseModel):
    """Configuration of the test program."""

    name: str = "test_program"


class TestProgram(AcoupiProgram[TestConfigSchema]):
    """A program with a single periodic ``test_task``."""

    config_schema = TestConfigSchema

    def setup(self, config: TestConfigSchema) -> None:
        """Register ``test_task`` every 10 seconds."""
        self.logger.debug("Setting up test program")

        def test_task() -> None:
            print(f"Configuration: name={config.name}")
            print("Task executed")

        self.add_task(test_task, schedule=10)

    def check(self, config: TestConfigSchema) -> None:
        """Fail unless the configured name is ``test_program``."""
        self.logger.info("Checking test program configurations")
        if config.name != "test_program":
            raise HealthCheckError(
                f"name is not test_program (it is {config.name!r}). "
                "Fix it with `acoupi config set name test_program`."
            )
