"""Which modules an execution mode builds (torch-free, for fast CLI checks)."""

from __future__ import annotations

from redheart.config import ModelConfig, check_module_names
from redheart.errors import ConfigError
from redheart.model.catalog import MODULES, ExecutionMode, essential_reason


def enabled_modules(cfg: ModelConfig, mode: ExecutionMode,
                    source: str = "model config") -> tuple[str, ...]:
    """Names of the modules to build, in catalogue order.

    Essential modules are always built in TRAINING and EVALUATION; in
    INFERENCE, `disabled` may drop essential analyzers. Optional modules are
    built when listed in `modules`.
    """
    check_module_names(cfg, source)
    if mode is not ExecutionMode.INFERENCE and cfg.disabled:
        name = cfg.disabled[0]
        raise ConfigError(f"{source}: [model] disabled: '{name}' cannot be disabled in "
                          f"{mode.value.upper()} ({essential_reason(name)}); remove it from "
                          f"[model] disabled")
    for name in cfg.disabled:
        if not name.endswith(("_analyzer", "_calculator")):
            raise ConfigError(f"{source}: [model] disabled: '{name}' cannot be disabled in any "
                              f"mode ({essential_reason(name)}); remove it")
    chosen = set(cfg.modules)
    names = []
    for spec in MODULES:
        if spec.essential and spec.name not in cfg.disabled:
            names.append(spec.name)
        elif not spec.essential and spec.name in chosen:
            names.append(spec.name)
    built = set(names)
    for name in names:
        for needed in next(s for s in MODULES if s.name == name).requires:
            if needed not in built:
                raise ConfigError(f"{source}: [model] modules: '{name}' needs '{needed}', "
                                  f"which is not built in {mode.value.upper()}")
    return tuple(names)
