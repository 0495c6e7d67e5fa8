"""The traffic simulator: calibrated national message traffic with ground truth.

It plays the health network's systems: it builds valid documents of every
family over the synthetic national register (and a configurable share of
faults), sends them into a running hub, answers as the receivers with AppRecs,
and writes down what the hub must count, so the statistics can be checked
exactly. Others may import (from the modules, so that importing the package
stays cheap):

* :mod:`meldingshub.simulator.mix` - ``Mix``, ``Flow``, ``MIXES``, ``NATIONAL_2019``,
  ``REFERENCE_2019`` (the calibration, as data)
* :mod:`meldingshub.simulator.traffic` - ``Traffic`` (``year``, ``messages``, ``stream``),
  ``Outgoing``, ``Expectation``, ``Dims``, ``principals_for`` (re-exported from
  :mod:`~meldingshub.simulator.expectations`, :mod:`~meldingshub.simulator.provision`;
  planning in :mod:`~meldingshub.simulator.plan`, documents in
  :mod:`~meldingshub.simulator.compose`)
* :mod:`meldingshub.simulator.documents` - ``render``, ``render_apprec``, ``DocumentSpec``
* :mod:`meldingshub.simulator.faults` - ``FaultKind`` and the expected AppRec codes
* :mod:`meldingshub.simulator.senders` - ``KafkaSender``, ``HttpSender``, ``AmqpSender``,
  ``FileSender``
* :mod:`meldingshub.simulator.pacing` - ``send_all``
* :mod:`meldingshub.simulator.truth` - ``Truth``; :mod:`meldingshub.simulator.verify` -
  ``verify``
* :mod:`meldingshub.simulator.component` - ``SimulatedStream`` (the stream of ``make run``)
"""
