"""A plugin that adds a CLI command through register_commands."""
import click

from xaibench import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command(name="hello-plugin")
    @click.argument("name")
    def hello(name):
        """Say hello (added by a plugin)."""
        click.echo(f"hello {name} from a plugin")
