"""Reading labelled inputs and writing the prepared dataset."""
