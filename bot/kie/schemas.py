"""kie.ai's answers as pydantic models (the shapes in kie.ai's docs, read leniently).

Lenient: unknown fields are kept, ``msg`` may be spelled ``message``, the JSON strings
(``param``, ``resultJson``) are parsed a second time, and a field that only informs (a
progress, a time, a file name) is dropped to its default when it has an unexpected value
rather than failing the whole answer. What the bot cannot do without (an envelope's ``code``,
a record's task id and state, an upload's link, a balance that is a number) raises pydantic's
``ValidationError``, which the client turns into a :class:`~bot.kie.errors.KieError`.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)

TaskState = Literal["waiting", "queuing", "generating", "success", "fail"]
RUNNING_STATES: frozenset[str] = frozenset({"waiting", "queuing", "generating"})


class Envelope(BaseModel):
    """``{"code": int, "msg": str, "data": ...}``; some pages spell ``msg`` as ``message``."""

    model_config = ConfigDict(extra="allow")

    code: int
    msg: str = Field(default="", validation_alias=AliasChoices("msg", "message"))
    data: Any = None

    @field_validator("msg", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


def _json_object(value: Any) -> dict[str, Any] | None:
    """``param``/``resultJson`` are JSON *strings*: parse them a second time. Anything but a
    JSON object (empty, null, not JSON, a list...) is None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _number_or_none(value: Any) -> Any:
    """A time or a duration: a finite number (or a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class TaskResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    resultUrls: list[str] = []
    resultWaterMarkUrls: list[str] = []

    @field_validator("resultUrls", "resultWaterMarkUrls", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> list[str]:
        """The links among the entries (null while failing, say, is no links)."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        return [url for url in value if isinstance(url, str) and url]


class TaskRecord(BaseModel):
    """``data`` of recordInfo, and of a callback."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    task_id: str = Field(validation_alias=AliasChoices("taskId", "task_id"))
    model: str = ""
    state: TaskState
    param: dict[str, Any] | None = None
    result: TaskResult | None = Field(default=None, validation_alias="resultJson")
    fail_code: str = Field(default="", validation_alias="failCode")
    fail_msg: str = Field(default="", validation_alias="failMsg")
    progress: int | None = None
    cost_time: float | None = Field(default=None, validation_alias="costTime")
    create_time: int | None = Field(default=None, validation_alias="createTime")
    complete_time: int | None = Field(default=None, validation_alias="completeTime")

    @field_validator("param", "result", mode="before")
    @classmethod
    def _decode(cls, value: Any) -> Any:
        return _json_object(value)

    @field_validator("model", "fail_code", "fail_msg", mode="before")
    @classmethod
    def _str(cls, value: Any) -> str:
        return _text(value)

    @field_validator("cost_time", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _number_or_none(value)

    @field_validator("create_time", "complete_time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> int | None:
        number = _number_or_none(value)
        return None if number is None else round(number)

    @field_validator("progress", mode="before")
    @classmethod
    def _progress(cls, value: Any) -> int | None:
        if value is None or value == "":
            return None
        try:
            return max(0, min(100, round(float(value))))
        except (TypeError, ValueError, OverflowError):  # e.g. "progress": 1e999
            return None

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def video_url(self) -> str | None:
        """The clean video: ``resultUrls[0]``, never the watermarked one."""
        if self.result and self.result.resultUrls:
            return self.result.resultUrls[0]
        return None

    @property
    def callback_url(self) -> str | None:
        if self.param:
            url = self.param.get("callBackUrl")
            return url if isinstance(url, str) else None
        return None


class UploadedFile(BaseModel):
    """``data`` of an upload: ``downloadUrl`` (some pages say ``fileUrl``) is what matters."""

    model_config = ConfigDict(extra="allow")

    download_url: Annotated[str, Field(min_length=1, strict=True)] = Field(
        validation_alias=AliasChoices("downloadUrl", "fileUrl")
    )
    file_name: str = Field(default="", validation_alias="fileName")
    file_size: int | None = Field(default=None, validation_alias="fileSize")
    mime_type: str = Field(default="", validation_alias="mimeType")

    @field_validator("file_name", "mime_type", mode="before")
    @classmethod
    def _str(cls, value: Any) -> str:
        return _text(value)

    @field_validator("file_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int | None:
        number = _number_or_none(value)
        return None if number is None or number < 0 else round(number)


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a balance is a number, not true or false")
    return value


# ``data`` of /chat/credit: an integer in the schema, a decimal in practice; never NaN or
# infinite (Python's JSON parser reads ``NaN`` and ``Infinity``).
_BALANCE: TypeAdapter[float] = TypeAdapter(
    Annotated[float, Field(allow_inf_nan=False), BeforeValidator(_not_bool)]
)


def credit_balance(data: Any) -> float:
    """The credits left, from ``data`` of /chat/credit; ``ValidationError`` if not a number."""
    return _BALANCE.validate_python(data)
