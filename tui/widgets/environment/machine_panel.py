"""What the machine offers: GPU and VRAM or CPU and RAM, disk, optional engines, key package versions."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dndtune.env.environment import EnvReport
from tui.format import size

SHOWN_PACKAGES = ("torch", "transformers", "trl", "peft", "llama-cpp-python")


def machine_text(env: EnvReport) -> Text:
    text = Text()
    if env.backend == "cuda" and env.gpus:
        for gpu in env.gpus:
            text.append_text(Text.assemble(("GPU ", "dim"), (gpu.name, "bold"), "\n",
                                           ("VRAM ", "dim"), (size(gpu.free_bytes), "bold"),
                                           (f" free of {size(gpu.total_bytes)}\n", "")))
    elif env.backend == "mps":
        text.append_text(Text.assemble(("GPU ", "dim"), ("Apple MPS", "bold"), "\n"))
    else:
        cores = f"{env.cpu_cores} cores" + (f" ({env.cpu_physical_cores} physical)" if env.cpu_physical_cores else "")
        text.append_text(Text.assemble(("CPU ", "dim"), (cores, "bold"), ("  no GPU\n", "dim")))
    text.append_text(Text.assemble(("RAM ", "dim"), (size(env.ram_available), "bold"),
                                   f" free of {size(env.ram_total)}\n"))
    text.append_text(Text.assemble(("disk ", "dim"), (size(env.disk_free), "bold"), " free\n"))
    text.append("\nengines\n", style="bold underline")
    for name, found in sorted(env.modules.items()):
        text.append_text(Text.assemble(("✓ " if found else "· ", "green" if found else "dim"),
                                       (name, "" if found else "dim"), "\n"))
    text.append("\npackages\n", style="bold underline")
    for name in SHOWN_PACKAGES:
        version = env.packages.get(name)
        text.append_text(Text.assemble((f"{name} ", "dim"), (version or "not installed", "" if version else "dim"),
                                       "\n"))
    text.rstrip()
    return text


class MachinePanel(Static):
    def show(self, env: EnvReport) -> None:
        self.update(machine_text(env))
