"""tubedemo: conduct a live talk about autoscaling LLM inference on Kubernetes."""
