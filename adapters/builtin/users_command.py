"""`crm-connector users`: the built-in CRM's accounts from the command line (the first admin above all).

    crm-connector users -c FILE add --login anna --name "Анна Иванова" --extension 201 --role admin
    crm-connector users -c FILE list
    crm-connector users -c FILE passwd anna          (a new password; sessions of anna end)
    crm-connector users -c FILE deactivate anna | activate anna

A password is made up and printed once unless `--password-stdin` reads it from standard input (so
it is never in the shell history); it must meet the same rules as on the page. The database is
the one the daemon uses (SQLite in WAL mode: the daemon may keep running).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from adapters.builtin import passwords
from adapters.builtin.people import ROLES
from adapters.builtin.store import Store
from connector.commands.common import add_config_option, load_or_exit
from connector.config import Settings

HELP = "manage the built-in CRM's sign-in accounts (add the first admin, reset a password, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `users`."""
    add_config_option(parser)
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add an employee who signs in with a login and password")
    add.add_argument("--login", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--extension", required=True, help="the employee's extension, e.g. 201")
    add.add_argument("--role", choices=ROLES, default="employee")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sub.add_parser("list", help="list employees with their logins")
    for name, text in (
        ("passwd", "set a new password"),
        ("deactivate", "switch off"),
        ("activate", "switch on"),
    ):
        one = sub.add_parser(name, help=f"{text} (by login)")
        one.add_argument("login")
        if name == "passwd":
            one.add_argument("--password-stdin", action="store_true")


def main(args: argparse.Namespace) -> int:
    """Exit 0 on success, 1 when refused (taken login, weak password, unknown login), 2 on config."""
    settings = load_or_exit(args.config)
    if settings is None:
        return 2
    try:
        return asyncio.run(_run(args, settings))
    except UserError as exc:
        print(f"crm-connector users: {exc}", file=sys.stderr)
        return 1


class UserError(Exception):
    """A refusal to show the operator."""


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.builtin import with_storage

    crm = settings.adapters.get("builtin")
    if crm is None:
        raise UserError("the built-in CRM is not configured (adapters.builtin)")
    store = await Store.open(with_storage(crm, settings.storage.dir).target(settings.storage.dir))
    try:
        if args.action == "list":
            return await _list(store)
        if args.action == "add":
            return await _add(store, args, settings.http.passwords.min_length)
        row = await store.accounts.by_login(args.login)
        if row is None:
            raise UserError(f"no employee signs in as {args.login}")
        if args.action == "passwd":
            await _set_password(store, row["id"], args, settings.http.passwords.min_length, row)
        else:
            await store.accounts.set_active(row["id"], args.action == "activate")
            print(f"{args.login}: {'switched on' if args.action == 'activate' else 'switched off'}")
        return 0
    finally:
        await store.close()


async def _list(store: Store) -> int:
    for row in await store.employees.list():
        state = "" if row["active"] else "  (switched off)"
        print(f"{row['extension']:>6}  {row['login'] or '-':<16} {row['role']:<9} {row['name']}{state}")
    return 0


async def _add(store: Store, args: argparse.Namespace, min_length: int) -> int:
    if await store.accounts.by_login(args.login):
        raise UserError(f"login {args.login} is taken")
    if await store.employees.by_extension(args.extension):
        raise UserError(f"extension {args.extension} already belongs to an employee")
    password = _password(args, min_length, [args.login, *args.name.split()])
    row, token = await store.employees.create(args.name, args.extension, args.role)
    await store.accounts.set_login(row["id"], args.login)
    await store.accounts.set_password_hash(row["id"], await passwords.hash_password(password))
    print(f"added {args.name} ({args.extension}, {args.role}); sign in as {args.login}")
    if not args.password_stdin:
        print(f"password  {password}   (shown once)")
    print(f"API token {token}   (shown once; for scripts)")
    return 0


async def _set_password(
    store: Store, employee_id: int, args: argparse.Namespace, min_length: int, row: dict[str, object]
) -> None:
    password = _password(args, min_length, [args.login, *str(row["name"]).split()])
    await store.accounts.set_password_hash(employee_id, await passwords.hash_password(password))
    print(f"{args.login}: new password set; every session of {args.login} has ended")
    if not args.password_stdin:
        print(f"password  {password}   (shown once)")


def _password(args: argparse.Namespace, min_length: int, personal: list[str]) -> str:
    if not args.password_stdin:
        return passwords.generate()
    password = sys.stdin.readline().rstrip("\n")
    found = passwords.problems(password, min_length, personal)
    if found:
        raise UserError("the password is refused: " + "; ".join(found))
    return password
