"""One thin module per stage (`assets.stages` lists the six), the factory they share, and the
stage runner. Importing the package imports nothing: engine workers load `assets.runner` alone."""
