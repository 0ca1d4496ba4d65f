"""Reports: pure functions from Report objects to text, JSON, Markdown, HTML and figures."""
