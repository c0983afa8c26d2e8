"""The environment variable names of the settings (part of the product's interface), and how
to name a setting to an operator."""

from __future__ import annotations

# Environment variable -> dotted path in the settings model.
ENV_NAMES: dict[str, str] = {
    "DISCORD_TOKEN": "discord.token",
    "DISCORD_MESSAGE_CONTENT": "discord.message_content",
    "KIE_API_KEY": "kie.api_key",
    "KIE_BASE_URL": "kie.base_url",
    "KIE_UPLOAD_URL": "kie.upload_url",
    "KIE_WEBHOOK_HMAC_KEY": "kie.webhook_hmac_key",
    "KIE_MODEL": "kie.model",
    "KIE_FALLBACK_MODEL": "kie.fallback_model",
    "STORYBOARD_DATA_DIR": "storage.data_dir",
    "STORYBOARD_DB": "storage.db",
    "STORYBOARD_MEDIA_DIR": "storage.media_dir",
    "STORYBOARD_PUBLIC_URL": "http.public_url",
    "STORYBOARD_HTTP_HOST": "http.host",
    "STORYBOARD_HTTP_PORT": "http.port",
    "STORYBOARD_LOG_LEVEL": "log.level",
    "STORYBOARD_LOG_FORMAT": "log.format",
}
# Each secret can also be read from a file: ``KIE_API_KEY_FILE=/run/secrets/kie``.
_SECRETS = ("DISCORD_TOKEN", "KIE_API_KEY", "KIE_WEBHOOK_HMAC_KEY")
SECRET_FILE_NAMES: dict[str, str] = {f"{env}_FILE": ENV_NAMES[env] for env in _SECRETS}
PATH_TO_ENV = {path: env for env, path in ENV_NAMES.items()}


def describe_setting(path: str) -> str:
    """``kie.api_key`` -> ``KIE_API_KEY (kie.api_key)``: how an operator finds the setting."""
    env = PATH_TO_ENV.get(path)
    return f"{env} ({path})" if env else path
