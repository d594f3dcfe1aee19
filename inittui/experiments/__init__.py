"""What trains whole experiments without a screen: headless training, reproduce, the depth sweep."""
