"""kie.ai's answers as pydantic models (the shapes in kie.ai's docs, read leniently)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

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


def _json_string(value: Any) -> Any:
    """``param``/``resultJson`` are JSON *strings*: parse them a second time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


class TaskResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    resultUrls: list[str] = []
    resultWaterMarkUrls: list[str] = []


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
        return _json_string(value)

    @field_validator("fail_code", "fail_msg", mode="before")
    @classmethod
    def _str(cls, value: Any) -> str:
        return "" if value is None else str(value)

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
    model_config = ConfigDict(extra="allow")

    download_url: str = Field(validation_alias=AliasChoices("downloadUrl", "fileUrl"))
    file_name: str = Field(default="", validation_alias="fileName")
    file_size: int | None = Field(default=None, validation_alias="fileSize")
    mime_type: str = Field(default="", validation_alias="mimeType")
