"""`python -m orchestration.exports export …`: the export commands without the main CLI."""

from orchestration.exports.cli import standalone_app

if __name__ == "__main__":
    standalone_app(prog_name="python -m orchestration.exports")
