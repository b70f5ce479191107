"""How coloured text looks, and the HTML and SVG snippets that export it."""
