"""What the CLI shows people: Rich tables and plain lines, from what the API answered. Pure:
each view returns a renderable and prints nothing."""
