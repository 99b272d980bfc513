"""A task's documents as lm-eval gets them: `datasets.load_dataset(dataset_path, dataset_name,
**dataset_kwargs)` (or the task's `custom_dataset(**metadata, **dataset_kwargs)`) (so `dataset_path: json` with `data_files` reads local files, and a Hub id the Hub),
then `process_docs` on each split; the evaluated split is test_split, else validation_split.

Few-shot documents follow lm-eval's order of preference: fewshot_config's split (its process_docs),
else fewshot_config's samples, else the training, validation, then test split. Relative `data_files`
are read from the working folder, as lm-eval hands them to datasets unchanged; one found only beside
the YAML file is refused in one line naming both places (reading it there would be a run lm-eval
cannot repeat from the same folder).
"""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from evalkit.errors import DataError, UsageError
from evalkit.task_kinds.yaml_format.config import YamlConfig


def check_data_files(files: Any, path: Path) -> None:
    """Refuse a relative data file that is missing from the working folder but lies beside the task file."""
    if isinstance(files, dict):
        for f in files.values():
            check_data_files(f, path)
    elif isinstance(files, list):
        for f in files:
            check_data_files(f, path)
    elif isinstance(files, str) and "://" not in files and not Path(files).is_absolute() and not glob.glob(files) \
            and glob.glob(str(path.parent / files)):
        raise UsageError(f"{path}: key dataset_kwargs.data_files: {files} is not in the working folder "
                         f"{Path.cwd()} (where lm-eval reads it) but is beside the task file, "
                         f"{path.parent / files}: run from {path.parent} or give the path from the working folder")


class Documents:
    """The splits of one task's dataset, loaded once, with process_docs applied."""

    def __init__(self, config: YamlConfig):
        self.config = config
        self._dataset = None
        self._splits: dict[tuple[str, bool], list[dict]] = {}

    @property
    def dataset(self):
        if self._dataset is None:
            import datasets  # imported here: only a run reads data
            from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

            kwargs = dict(self.config.dataset_kwargs or {})
            check_data_files(kwargs.get("data_files"), self.config.path)
            quiet = are_progress_bars_disabled()
            disable_progress_bars()  # a bar per split of every task would bury the run's own lines
            try:
                if self.config.custom_dataset is not None:  # the task builds its own splits (lm-eval's rule)
                    self._dataset = self.config.custom_dataset(**(self.config.metadata or {}), **kwargs)
                else:
                    self._dataset = datasets.load_dataset(self.config.dataset_path, self.config.dataset_name, **kwargs)
            except Exception as err:  # datasets raises many types (ConnectionError, FileNotFoundError, ValueError)
                what = str(self.config.dataset_path or self.config.custom_dataset) + \
                    (f" ({self.config.dataset_name})" if self.config.dataset_name else "")
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise DataError(f"{self.config.path}: key dataset_path: cannot load {what}: {reason}") from err
            finally:
                if not quiet:
                    enable_progress_bars()
        return self._dataset

    def split(self, name: str, process_docs=None, key: str = "test_split") -> list[dict]:
        """The documents of split `name`, through `process_docs` (the task's unless given)."""
        process = self.config.process_docs if process_docs is None else process_docs
        cache_key = (name, process is self.config.process_docs)
        if cache_key not in self._splits:
            if name not in self.dataset:
                raise UsageError(f"{self.config.path}: key {key}: no split {name!r} in {self.config.dataset_path} "
                                 f"(splits: {', '.join(self.dataset)})")
            rows = self.dataset[name]
            try:
                rows = process(rows) if process is not None else rows
            except Exception as err:  # a !function failing on the data names the file and the key
                raise DataError(f"{self.config.path}: key process_docs: {type(err).__name__}: {err}") from err
            self._splits[cache_key] = [dict(row) for row in rows]
        return self._splits[cache_key]

    def evaluated(self) -> list[dict]:
        key = "test_split" if self.config.test_split else "validation_split"
        return self.split(self.config.eval_split, key=key)

    def fewshot_pool(self) -> list[dict]:
        fewshot, config = self.config.fewshot, self.config
        if fewshot.split is not None:
            pool = self.split(fewshot.split, fewshot.process_docs, key="fewshot_split")
        elif fewshot.samples is not None:
            pool = list(fewshot.samples() if callable(fewshot.samples) else fewshot.samples)
        else:
            key, name = next(((k, s) for k, s in (("training_split", config.training_split),
                                                  ("validation_split", config.validation_split),
                                                  ("test_split", config.test_split)) if s), (None, None))
            pool = self.split(name, key=key) if name else []
        if fewshot.fewshot_indices:
            pool = [pool[i] for i in fewshot.fewshot_indices]
        return pool
