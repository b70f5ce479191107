"""The lstmviz dashboard: a Dash app over extraction files, built on the lstmviz library."""
