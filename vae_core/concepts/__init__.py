"""The theory behind the app, as small computations the Concepts pages make live.

One module per idea, each a handful of pure functions of numbers and tensors (no streamlit):

    kl_direction   forward vs reverse KL: fitting one Gaussian to a two-Gaussian mixture
    elbo           log p(x) = ELBO + KL(q(z|x) || p(z|x)) on a grid over a 2-D latent
    reparam        the reparameterization trick against the score-function estimator
    kl_closed_form KL(N(mu, sigma^2) || N(0, 1)): closed form, Monte Carlo, the code line
    sparsity       the KL(rho || rho_hat) and L1 activity penalties of a sparse autoencoder
    contraction    denoising arrows and the encoder's Jacobian norm over a 2-D input plane
    live           the few-second trainings the pages run (one CPU thread)
"""
