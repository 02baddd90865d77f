"""The `crm-connector` subcommands, one module each: `add_arguments(parser)` and `main(args) -> int`."""
