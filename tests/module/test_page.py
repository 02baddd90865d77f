"""The settings page's parts agree: what the view renders, the form builds, the controller saves,
the model stores and the messages translate (Phalcon is not here to render it, so a name typed
wrong in one of them would only show on a real MikoPBX)."""

from __future__ import annotations

import re

from . import support

APP = support.MODULE / "App"
VIEW = (APP / "Views" / "ModuleCrmConnector" / "index.volt").read_text(encoding="utf-8")
FORM = (APP / "Forms" / "ModuleCrmConnectorForm.php").read_text(encoding="utf-8")
CONTROLLER = (APP / "Controllers" / "ModuleCrmConnectorController.php").read_text(encoding="utf-8")
MODEL = (support.MODULE / "Models" / "ModuleCrmConnector.php").read_text(encoding="utf-8")
SCRIPT = (support.MODULE / "public" / "assets" / "js" / "module-crm-connector-index.js").read_text(
    encoding="utf-8"
)
# Generated at install, never posted by the page.
SECRETS = {"id", "ami_secret", "link_secret", "api_token"}


def rendered() -> set[str]:
    return set(re.findall(r"form\.render\('([a-z0-9_]+)'\)", VIEW))


def built() -> set[str]:
    fields = set(re.findall(r"new (?:Text|Password|Select|Check|Numeric|Hidden)\('([a-z0-9_]+)'", FORM))
    return fields | set(re.findall(r"addTextArea\('([a-z0-9_]+)'", FORM))


def saved() -> set[str]:
    block = re.search(r"FIELDS = \[(.*?)\];", CONTROLLER, re.S)
    assert block is not None
    return set(re.findall(r"'([a-z0-9_]+)'", block.group(1)))


def stored() -> set[str]:
    return set(re.findall(r"public \$([a-z0-9_]+)", MODEL))


def message_keys(lang: str) -> set[str]:
    text = (support.MODULE / "Messages" / f"{lang}.php").read_text(encoding="utf-8")
    return set(re.findall(r"^\s*'([A-Za-z0-9_]+)'\s*=>", text, re.M))


def test_the_view_renders_exactly_the_fields_the_form_builds() -> None:
    assert (len(rendered()) > 20, rendered() ^ built()) == (True, set())


def test_the_controller_saves_every_field_of_the_form_and_the_model_has_them() -> None:
    assert (saved() == built(), saved() - stored(), stored() - saved() - SECRETS) == (True, set(), set())


def test_every_text_the_page_shows_is_translated() -> None:
    used = set(re.findall(r"t\._\('([A-Za-z0-9_]+)'\)", VIEW + FORM))
    used |= set(re.findall(r"globalTranslate\.([A-Za-z0-9_]+)", SCRIPT))
    config = (support.MODULE / "Lib" / "ConnectorConfig.php").read_text(encoding="utf-8")
    used |= {f"mod_crm_Region{code}" for code in re.findall(r"'([A-Z]{2})' => '\d+'", config)}
    # The error messages the page's checks and the controller name.
    used |= set(re.findall(r"'(mod_crm_[A-Za-z0-9_]+)'", config + CONTROLLER))
    assert {lang: sorted(used - message_keys(lang)) for lang in ("ru", "en")} == {"ru": [], "en": []}


def test_the_script_refers_only_to_fields_the_form_has() -> None:
    named = set(re.findall(r"identifier: '([a-z0-9_]+)'", SCRIPT))
    named |= set(re.findall(r"form\('get value', '([a-z0-9_]+)'\)", SCRIPT))
    assert named - built() == set()
