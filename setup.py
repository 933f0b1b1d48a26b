"""Build the C reader ``normalizers._marcread``; the project's metadata is in pyproject.toml.

The extension is optional: without a C compiler the install still succeeds and Svod reads
records with the pure-Python code it replaces (``normalizers.iso2709.NATIVE`` says which).
``pip install -e .`` builds it in place, next to ``normalizers/_marcread.c``.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "normalizers._marcread",
            sources=["normalizers/_marcread.c"],
            optional=True,
        )
    ]
)
