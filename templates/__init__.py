"""Form templates (YAML layouts and Jinja2 texts), shipped as data of perfxl."""
