from jianyi.cli.main import app

app(prog_name="jianyi")
