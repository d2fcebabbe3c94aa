from personax.cli.main import run

run()
