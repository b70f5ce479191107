"""Cell search: hypotheses about text, scoring every unit against them, search by example."""
