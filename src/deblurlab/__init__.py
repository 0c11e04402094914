"""deblurlab."""
