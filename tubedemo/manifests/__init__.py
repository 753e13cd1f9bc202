"""demo.yaml -> Kubernetes manifests: render (pure), validate (schemas, formula), upstream CRDs,
the commented demo.yaml. May import tubedemo.core only.
"""
