from ipykernel.kernelapp import IPKernelApp

from .kernel import Medr1Kernel

IPKernelApp.launch_instance(kernel_class=Medr1Kernel)
