"""The ``slm`` section's per-backend keys: ``slm.simulated``, ``slm.meadowlark``, ``slm.holoeye``.

Each sub-section holds the settings only that backend reads; its names are the backend's keyword
arguments (:meth:`slm_kwargs`), so the session file, the schema and the constructor say the same thing.
The SDK paths are checked when the SLM is opened (a machine that only analyses data need not have the
SDK), and then fail in one line naming the SDK and the key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from holostim.config.types import ExistingFile, ResolvedPath, Section

__all__ = ["HoloeyeOptions", "MeadowlarkOptions", "SimulatedSLMOptions"]


class SimulatedSLMOptions(Section):
    """The simulated panel's LC model beyond ``settle_tau_ms`` (:mod:`holostim.hardware.slm.response`)."""

    tau_table: list[tuple[float, Annotated[float, Field(gt=0)]]] | None = Field(
        None, description="τ of the commanded phase: [[retardance_rad, tau_ms], ...], increasing retardance"
    )
    overdrive: bool = Field(False, description="one overdrive frame per new frame (Thalhammer et al. 2013)")
    phase_change_reduction: bool = Field(
        False, description="command the 2π-equivalent gray nearest the present state (panels beyond 2π)"
    )

    @field_validator("tau_table")
    @classmethod
    def _increasing(cls, table: Any) -> Any:
        if table is not None:
            if not table:
                raise ValueError("give at least one [retardance_rad, tau_ms] pair, or leave tau_table out")
            ph = [p for p, _ in table]
            if any(b <= a for a, b in zip(ph, ph[1:], strict=False)):
                raise ValueError(f"the retardances {ph} must increase strictly")
        return table

    def slm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~holostim.hardware.slm.SimulatedSLM`."""
        return {"tau_table": self.tau_table, "overdrive": self.overdrive,
                "phase_change_reduction": self.phase_change_reduction}


class MeadowlarkOptions(Section):
    """Meadowlark Blink SDK settings (:class:`~holostim.hardware.slm.meadowlark.MeadowlarkSLM`)."""

    sdk_path: ResolvedPath | None = Field(None, description="Blink_C_wrapper library, or the SDK folder")
    model: Literal["pcie", "hdmi"] = "pcie"
    board: Annotated[int, Field(ge=1)] = Field(1, description="PCIe board number (from 1)")
    lut_file: ExistingFile | None = Field(
        None, description="Meadowlark's calibrated LUT, loaded to the controller"
    )
    wait_for_trigger: bool = Field(False, description="PCIe: hold each frame until the external trigger")
    output_pulse: bool = Field(False, description="PCIe: a trigger-out pulse on each image flip")
    flip_immediate: bool = False
    trigger_timeout_ms: Annotated[int, Field(gt=0, lt=2**32)] = 5000

    def slm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~holostim.hardware.slm.meadowlark.MeadowlarkSLM`."""
        return self.model_dump()


class HoloeyeOptions(Section):
    """HOLOEYE SLM Display SDK settings (:class:`~holostim.hardware.slm.holoeye.HoloeyeSLM`)."""

    sdk_path: ResolvedPath | None = Field(None, description="holoeye_slmdisplaysdk library, or its folder")
    wavefront_file: ExistingFile | None = Field(
        None, description="Holoeye wavefront compensation (SDK-applied)"
    )

    def slm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~holostim.hardware.slm.holoeye.HoloeyeSLM`."""
        return self.model_dump()
